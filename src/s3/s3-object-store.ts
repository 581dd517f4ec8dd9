import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';
import type {
  CompletedPart,
  DeleteObjectsResult,
  GetResult,
  ListedObject,
  ObjectHead,
  ObjectRef,
  ObjectStore,
  OpenUpload,
  PutRequest,
  RequestOptions,
  StartedUpload,
  StoredPart,
  UploadPartCopyRequest,
  UploadPartRequest,
  WriteSettings,
} from '../upload/object-store.js';
import { copiedInto, type GetIntoResult } from '../upload/object-store.js';
import { StoreError } from '../store-error.js';
import { ObjectExistsError } from '../errors.js';
import { mappedBody, toStoreError } from './s3-errors.js';
import { byteRange, DirectRequests } from './direct-requests.js';
import { unquoteEtag as unquote } from '../upload/etag.js';
import type { HttpTransport } from './s3-client.js';

/** A conditional write refused because the key holds an object (S3's 412 PreconditionFailed). */
function existsInstead(key: string) {
  return (err: unknown): never => {
    if (StoreError.is(err) && err.status === 412) {
      throw new ObjectExistsError(`${key} was created by another writer during this upload (PreconditionFailed); nothing was replaced`, { cause: err });
    }
    throw err;
  };
}

/**
 * ObjectStore over the AWS SDK: with direct-requests.ts (GetObject and one-piece PutObjects, signed by the
 * SDK's signer), the only module that sends S3 requests; every failure is a StoreError (s3-errors.ts).
 */
export class S3ObjectStore implements ObjectStore {
  private readonly direct: DirectRequests | undefined;

  /** With the client's `transport` (createHttpTransport), GetObject and a PutObject of a body in one piece skip the SDK's middleware (direct-requests.ts). */
  constructor(
    private readonly client: S3Client,
    readonly description: string,
    transport?: HttpTransport,
  ) {
    this.direct = transport ? new DirectRequests(client, transport) : undefined;
  }

  async putObject(req: PutRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    if (this.direct && req.body.length === 1) {
      const done = await this.direct.put(req, req.body[0]!, opts.signal).catch(existsInstead(req.key));
      if (done) return done;
    }
    const out = await mapped(this.client.send(
      new PutObjectCommand({
        Bucket: req.bucket,
        Key: req.key,
        Body: bodyStream(req.body),
        ContentLength: req.contentLength,
        ContentMD5: req.contentMd5,
        ...(req.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        ...writeParams(req.settings),
      }),
      { abortSignal: opts.signal },
    )).catch(existsInstead(req.key));
    return { etag: unquote(out.ETag) };
  }

  async createMultipartUpload(ref: ObjectRef, settings: WriteSettings, opts: RequestOptions & { crc32c?: boolean } = {}): Promise<StartedUpload> {
    const out = await mapped(this.client.send(
      new CreateMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, ...writeParams(settings), ...(opts.crc32c ? { ChecksumAlgorithm: 'CRC32C' } : {}) }),
      { abortSignal: opts.signal },
    ));
    if (!out.UploadId) throw new Error(`CreateMultipartUpload for ${ref.key} returned no UploadId`);
    // A store that keeps additional checksums names the algorithm in its answer; one that ignores them (Ceph 16, Swift) does not.
    return { uploadId: out.UploadId, crc32c: opts.crc32c === true && out.ChecksumAlgorithm === 'CRC32C' };
  }

  async uploadPart(req: UploadPartRequest, opts: RequestOptions = {}): Promise<StoredPart> {
    const out = await mapped(this.client.send(
      new UploadPartCommand({
        Bucket: req.bucket,
        Key: req.key,
        UploadId: req.uploadId,
        PartNumber: req.partNumber,
        Body: bodyStream(req.body),
        ContentLength: req.contentLength,
        ...('crc32c' in req.check ? { ChecksumCRC32C: req.check.crc32c } : { ContentMD5: req.check.contentMd5 }),
      }),
      { abortSignal: opts.signal },
    ));
    return { etag: unquote(out.ETag), ...(out.ChecksumCRC32C ? { crc32c: out.ChecksumCRC32C } : {}) };
  }

  async completeMultipartUpload(
    ref: ObjectRef,
    uploadId: string,
    parts: CompletedPart[],
    opts: RequestOptions & { ifNoneMatch?: boolean } = {},
  ): Promise<void> {
    await mapped(this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        UploadId: uploadId,
        ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        MultipartUpload: {
          Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"`, ...(p.crc32c ? { ChecksumCRC32C: p.crc32c } : {}) })),
        },
      }),
      { abortSignal: opts.signal },
    )).catch(existsInstead(ref.key));
  }

  async abortMultipartUpload(ref: ObjectRef, uploadId: string, opts: RequestOptions = {}): Promise<void> {
    try {
      await mapped(this.client.send(
        new AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: uploadId }),
        { abortSignal: opts.signal },
      ));
    } catch (err) {
      if (StoreError.is(err) && err.status === 404) return; // already gone: that is what we wanted
      throw err;
    }
  }

  async headObject(ref: ObjectRef, opts: RequestOptions & { checksums?: boolean } = {}): Promise<ObjectHead | undefined> {
    try {
      const out = await mapped(this.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, ...(opts.checksums ? { ChecksumMode: 'ENABLED' } : {}) }), {
        abortSignal: opts.signal,
      }));
      return {
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        metadata: out.Metadata ?? {},
        ...(out.ServerSideEncryption ? { sse: out.ServerSideEncryption } : {}),
        ...(out.ChecksumCRC32C ? { crc32c: out.ChecksumCRC32C } : {}),
      };
    } catch (err) {
      if (StoreError.is(err) && err.kind === 'not-found') return undefined;
      throw err;
    }
  }

  async getObject(
    ref: ObjectRef,
    opts: RequestOptions & { start?: number; end?: number; ifMatch?: string } = {},
  ): Promise<GetResult | undefined> {
    return absentIfNoSuchKey(async () => {
      const direct = await this.direct?.get(ref, opts);
      if (direct) return direct;
      const range = byteRange(opts);
      const out = await mapped(this.client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          ...(range ? { Range: range } : {}),
          ...(opts.ifMatch ? { IfMatch: `"${opts.ifMatch}"` } : {}),
        }),
        { abortSignal: opts.signal },
      ));
      if (!out.Body) throw new Error(`GetObject ${ref.key} returned no body`);
      return {
        body: mappedBody(out.Body as AsyncIterable<Uint8Array>),
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
      };
    });
  }

  async getObjectInto(
    ref: ObjectRef,
    into: Buffer,
    opts: RequestOptions & { start: number; end: number; ifMatch?: string },
  ): Promise<GetIntoResult | undefined> {
    return absentIfNoSuchKey(async () => {
      const direct = await this.direct?.getInto(ref, into, opts);
      // An endpoint direct-requests.ts does not sign for: the SDK's GetObject, copied.
      return direct ?? copiedInto(await this.getObject(ref, opts), into);
    });
  }

  async deleteObject(ref: ObjectRef, opts: RequestOptions = {}): Promise<void> {
    await mapped(this.client.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: ref.key }), { abortSignal: opts.signal }));
  }

  /**
   * One DeleteObjects request (at most 1,000 keys), with Content-MD5: S3 requires an integrity
   * header on it, and the SDK now sends only its flexible checksum (x-amz-checksum-crc32), which
   * OpenStack Swift's s3api and older stores do not accept. Quiet mode: only failures come back.
   */
  async deleteObjects(bucket: string, keys: readonly string[], opts: RequestOptions = {}): Promise<DeleteObjectsResult> {
    if (keys.length === 0) return { deleted: [], errors: [] };
    const command = new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
    });
    command.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body?: unknown; headers?: Record<string, string> };
        if (request.headers && (typeof request.body === 'string' || request.body instanceof Uint8Array)) {
          request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
        }
        return next(args);
      },
      { step: 'build', name: 'disklessDeleteObjectsContentMd5', priority: 'low' },
    );
    const out = await mapped(this.client.send(command, { abortSignal: opts.signal }));
    const errors = (out.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'Error', message: e.Message ?? '' }));
    const failed = new Set(errors.map((e) => e.key));
    return { deleted: keys.filter((k) => !failed.has(k)), errors };
  }

  async copyObject(from: ObjectRef, to: ObjectRef, settings: WriteSettings, opts: RequestOptions = {}): Promise<{ etag: string }> {
    const { metadata: _ignored, ...rest } = settings;
    const out = await mapped(this.client.send(
      new CopyObjectCommand({
        Bucket: to.bucket,
        Key: to.key,
        CopySource: `${from.bucket}/${encodeURIComponent(from.key).replace(/%2F/g, '/')}`,
        MetadataDirective: 'COPY',
        ...writeParams(rest),
      }),
      { abortSignal: opts.signal },
    ));
    return { etag: unquote(out.CopyObjectResult?.ETag) };
  }

  async uploadPartCopy(req: UploadPartCopyRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    const out = await mapped(this.client.send(
      new UploadPartCopyCommand({
        Bucket: req.bucket,
        Key: req.key,
        UploadId: req.uploadId,
        PartNumber: req.partNumber,
        CopySource: `${req.source.bucket}/${encodeURIComponent(req.source.key).replace(/%2F/g, '/')}`,
        CopySourceRange: `bytes=${req.first}-${req.last}`,
      }),
      { abortSignal: opts.signal },
    ));
    return { etag: unquote(out.CopyPartResult?.ETag) };
  }

  async listMultipartUploads(bucket: string, prefix?: string, opts: RequestOptions = {}): Promise<OpenUpload[]> {
    const uploads: OpenUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const out = await mapped(this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: bucket,
          ...(prefix ? { Prefix: prefix } : {}),
          ...(keyMarker ? { KeyMarker: keyMarker } : {}),
          ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
        }),
        { abortSignal: opts.signal },
      ));
      for (const u of out.Uploads ?? []) {
        if (u.Key && u.UploadId) {
          uploads.push({ bucket, key: u.Key, uploadId: u.UploadId, ...(u.Initiated ? { initiated: u.Initiated } : {}) });
        }
      }
      if (!out.IsTruncated) return uploads;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
  }

  async listObjects(bucket: string, prefix: string, opts: RequestOptions = {}): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    for (;;) {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          ...(prefix ? { Prefix: prefix } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
        { abortSignal: opts.signal },
      );
      for (const o of out.Contents ?? []) {
        if (!o.Key) continue;
        objects.push({
          key: o.Key,
          size: o.Size ?? 0,
          etag: unquote(o.ETag),
          ...(o.LastModified ? { lastModified: o.LastModified } : {}),
          ...(o.StorageClass ? { storageClass: o.StorageClass } : {}),
        });
      }
      if (!out.IsTruncated || !out.NextContinuationToken) return objects;
      token = out.NextContinuationToken;
    }
  }
}

/** A fresh stream over the same bytes for each attempt (a consumed stream cannot be resent). */
/**
 * The body of one request. A body of one chunk (a small file, a chain index, a part of one slab) is
 * passed as is: the SDK's handler then writes it with the headers in one call, without a stream
 * (about a tenth less CPU per small PutObject than through a stream).
 */
function bodyStream(chunks: readonly Uint8Array[]): Readable | Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  return Readable.from(chunks, { objectMode: false });
}

function writeParams(s: WriteSettings) {
  return {
    ...(s.storageClass ? { StorageClass: s.storageClass as StorageClass } : {}),
    ...(s.sse ? { ServerSideEncryption: s.sse as ServerSideEncryption } : {}),
    ...(s.sseKmsKeyId ? { SSEKMSKeyId: s.sseKmsKeyId } : {}),
    ...(s.contentType ? { ContentType: s.contentType } : {}),
    ...(s.metadata ? { Metadata: s.metadata } : {}),
  };
}

/** A read of an object that is not there (NoSuchKey) as undefined: the ObjectStore contract for a missing key. */
async function absentIfNoSuchKey<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (StoreError.is(err) && err.code === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** The request's failure as a StoreError: no SDK error shape leaves this module. */
function mapped<T>(request: Promise<T>): Promise<T> {
  return request.catch((err: unknown) => {
    throw toStoreError(err);
  });
}

