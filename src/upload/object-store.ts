/**
 * The few object-store operations diskless needs. `S3ObjectStore` (src/s3/) implements them with
 * the AWS SDK; tests plug in an in-memory store with failure injection. Bodies are lists of
 * byte views so a request can be sent again on retry without copying the data.
 */
export interface ObjectRef {
  bucket: string;
  key: string;
}

/** Settings applied to every object written: storage class, encryption, metadata. */
export interface WriteSettings {
  storageClass?: string;
  sse?: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  sseKmsKeyId?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface PutRequest extends ObjectRef {
  body: readonly Uint8Array[];
  contentLength: number;
  /** base64 MD5 of the body; the store rejects the request if the bytes differ. */
  contentMd5: string;
  settings: WriteSettings;
  /** Store only if the key holds no object (If-None-Match: *); else ObjectExistsError. */
  ifNoneMatch?: boolean;
}

export interface UploadPartRequest extends ObjectRef {
  uploadId: string;
  partNumber: number;
  body: readonly Uint8Array[];
  contentLength: number;
  /** The part's integrity check, which the store verifies before it keeps the part (part-checksum.ts). */
  check: PartCheck;
}

/** How a part proves its bytes to the store: Content-MD5, or S3's x-amz-checksum-crc32c (both base64). */
export type PartCheck = { contentMd5: string } | { crc32c: string };

/** What the store said of a part it kept: its ETag, and the CRC32C it verified when the part carried one. */
export interface StoredPart {
  etag: string;
  crc32c?: string;
}

/** A multipart upload begun: its id, and whether the store takes CRC32C part checksums for it (it said so). */
export interface StartedUpload {
  uploadId: string;
  crc32c: boolean;
}

/** UploadPartCopy: bytes first..last (inclusive) of `source` become part `partNumber`. */
export interface UploadPartCopyRequest extends ObjectRef {
  uploadId: string;
  partNumber: number;
  source: ObjectRef;
  first: number;
  last: number;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  /** The part's CRC32C (base64), for an upload begun with CRC32C part checksums. */
  crc32c?: string;
}

export interface ObjectHead {
  size: number;
  /** ETag without quotes. */
  etag: string;
  metadata: Record<string, string>;
  /** Server-side encryption in force, when the store says. */
  sse?: string;
  /** The object's CRC32C as S3 gives it (base64, `-N` for a composite of N parts), when asked and kept. */
  crc32c?: string;
}

export interface GetResult {
  body: AsyncIterable<Uint8Array>;
  size: number;
  etag: string;
}

export interface GetIntoResult {
  /** Bytes of the answer (more than fit in the buffer: the buffer does not hold them all). */
  length: number;
  etag: string;
}

/**
 * Copies `body` into `into` from its start: its length, or, for a body longer than `into`, a length over
 * `into.length` (read no further than that).
 */
export async function fillFrom(body: AsyncIterable<Uint8Array>, into: Buffer): Promise<number> {
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > into.length) return at + chunk.length;
    into.set(chunk, at);
    at += chunk.length;
  }
  return at;
}

/** A GetObject answer copied into `into` (fillFrom): getObjectInto of a store, or a path, that cannot read into a buffer itself. */
export async function copiedInto(got: GetResult | undefined, into: Buffer): Promise<GetIntoResult | undefined> {
  return got && { length: await fillFrom(got.body, into), etag: got.etag };
}

/** One entry of a listing: what ListObjectsV2 says of an object, with no request per object. */
export interface ListedObject {
  key: string;
  size: number;
  /** ETag without quotes. */
  etag: string;
  lastModified?: Date;
  storageClass?: string;
}

export interface OpenUpload extends ObjectRef {
  uploadId: string;
  initiated?: Date;
}

/** What DeleteObjects said of each key: deleted (or already absent), or refused with the store's error code. */
export interface DeleteObjectsResult {
  deleted: string[];
  errors: Array<{ key: string; code: string; message: string }>;
}

/** Keys per DeleteObjects request: the S3 limit. */
export const DELETE_BATCH = 1000;

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface ObjectStore {
  /** A short name for messages, e.g. the endpoint. */
  readonly description: string;
  putObject(req: PutRequest, opts?: RequestOptions): Promise<{ etag: string }>;
  /** `crc32c`: ask for CRC32C part checksums (x-amz-checksum-algorithm); the answer says whether the store took them. */
  createMultipartUpload(ref: ObjectRef, settings: WriteSettings, opts?: RequestOptions & { crc32c?: boolean }): Promise<StartedUpload>;
  uploadPart(req: UploadPartRequest, opts?: RequestOptions): Promise<StoredPart>;
  /** `ifNoneMatch`: only if the key holds no object (stores that ignore it complete anyway). */
  completeMultipartUpload(ref: ObjectRef, uploadId: string, parts: CompletedPart[], opts?: RequestOptions & { ifNoneMatch?: boolean }): Promise<void>;
  abortMultipartUpload(ref: ObjectRef, uploadId: string, opts?: RequestOptions): Promise<void>;
  /** undefined when the object does not exist. `checksums`: ask for the object's CRC32C too (x-amz-checksum-mode). */
  headObject(ref: ObjectRef, opts?: RequestOptions & { checksums?: boolean }): Promise<ObjectHead | undefined>;
  /** From the inclusive offset `start` to the inclusive offset `end` (default: the end of the object). */
  getObject(ref: ObjectRef, opts?: RequestOptions & { start?: number; end?: number; ifMatch?: string }): Promise<GetResult | undefined>;
  /**
   * GetObject of bytes `start` to `end` (inclusive) into `into`, from its start: the answer's length and
   * ETag, or undefined when the object does not exist. The bytes are all in `into` only when the length
   * is at most `into.length` (a longer answer is not read to its end). The read path's ranges: S3ObjectStore
   * reads the body straight into `into` where it can (socket-http.ts).
   */
  getObjectInto(ref: ObjectRef, into: Buffer, opts: RequestOptions & { start: number; end: number; ifMatch?: string }): Promise<GetIntoResult | undefined>;
  deleteObject(ref: ObjectRef, opts?: RequestOptions): Promise<void>;
  /** Deletes up to DELETE_BATCH keys in one request; a key the store refuses is reported, not thrown. */
  deleteObjects(bucket: string, keys: readonly string[], opts?: RequestOptions): Promise<DeleteObjectsResult>;
  /** Server-side copy of an object of at most 5 GiB (metadata kept); returns the new ETag. */
  copyObject(from: ObjectRef, to: ObjectRef, settings: WriteSettings, opts?: RequestOptions): Promise<{ etag: string }>;
  uploadPartCopy(req: UploadPartCopyRequest, opts?: RequestOptions): Promise<{ etag: string }>;
  listMultipartUploads(bucket: string, prefix?: string, opts?: RequestOptions): Promise<OpenUpload[]>;
  /** Every object whose key starts with `prefix`, in key order (one paginated listing). */
  listObjects(bucket: string, prefix: string, opts?: RequestOptions): Promise<ListedObject[]>;
}
