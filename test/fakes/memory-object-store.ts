import { createHash, randomUUID } from 'node:crypto';
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
  PartCheck,
  RequestOptions,
  StartedUpload,
  StoredPart,
  UploadPartCopyRequest,
  UploadPartRequest,
  WriteSettings,
} from '../../src/upload/object-store.js';
import { copiedInto, type GetIntoResult } from '../../src/upload/object-store.js';
import { StoreError, kindOfCode } from '../../src/store-error.js';
import { crc32c as crc32cOf } from '../../src/checksum/crc32c.js';
import { compositeCrc32c, crc32cBase64 } from '../../src/upload/part-checksum.js';

/** A store error with an S3 error code, as S3ObjectStore throws it (classified by the same table). */
export class FakeS3Error extends StoreError {
  constructor(code: string, status: number, message = code) {
    super(kindOfCode(code, status), code, message, { status });
  }
}

export type Operation = 'put' | 'create' | 'uploadPart' | 'complete' | 'abort' | 'head' | 'get' | 'delete' | 'list' | 'copy';

interface StoredObject {
  data: Buffer;
  etag: string;
  metadata: Record<string, string>;
  /** The composite CRC32C, for an object uploaded with CRC32C part checksums. */
  crc32c?: string;
}

interface Upload extends ObjectRef {
  parts: Map<number, { data: Buffer; etag: string; crc32c?: number }>;
  settings: WriteSettings;
  crc32c: boolean;
}

/**
 * An in-memory object store as strict as real S3 on what diskless relies on: Content-MD5 is
 * checked (BadDigest), non-final parts under 5 MiB fail at Complete (EntityTooSmall), part ETags
 * must match (InvalidPart), multipart ETags are composite. `failNext` injects failures.
 */
export class MemoryObjectStore implements ObjectStore {
  readonly description = 'memory://test';
  readonly objects = new Map<string, StoredObject>();
  readonly uploads = new Map<string, Upload>();
  private readonly failures: Array<{ op: Operation; error: Error; remaining: number; when?: (n: number) => boolean }> = [];
  readonly calls: Record<Operation, number> = { put: 0, create: 0, uploadPart: 0, complete: 0, abort: 0, head: 0, get: 0, delete: 0, list: 0, copy: 0 };
  /** Delay for each uploadPart, to make uploads overlap. */
  partDelayMs = 0;
  maxConcurrentParts = 0;
  private concurrentParts = 0;
  /** Corrupts what Head reports (simulates a store that lost or altered data). */
  headSizeDelta = 0;
  /** Extra time every call of an operation takes (e.g. `put`: an upload whose end comes late). */
  readonly delayMs: Partial<Record<Operation, number>> = {};
  /**
   * Takes CRC32C part checksums as AWS does (false: ignores them, as Ceph 16 does): a part's x-amz-checksum-crc32c
   * is verified (BadDigest), Complete needs each part's, and Head with checksums gives the composite.
   */
  crc32cParts = false;
  /** Corrupts the CRC32C an UploadPart answers with (a store that lost or altered data). */
  partCrc32cDelta = 0;
  /** Head gives no CRC32C, even when the object has one. */
  headCrc32cLost = false;
  /** The check each UploadPart carried, in order. */
  readonly partChecks: Array<'md5' | 'crc32c'> = [];

  failNext(op: Operation, error: Error, times = 1): void {
    this.failures.push({ op, error, remaining: times });
  }

  /** Fails every `op` call whose ordinal (1-based) satisfies `when`. */
  failWhen(op: Operation, when: (n: number) => boolean, error: Error): void {
    this.failures.push({ op, error, remaining: Number.POSITIVE_INFINITY, when });
  }

  private async enter(op: Operation, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const delay = this.delayMs[op];
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const n = ++this.calls[op];
    const f = this.failures.find((x) => x.op === op && x.remaining > 0 && (!x.when || x.when(n)));
    if (f) {
      f.remaining--;
      throw f.error;
    }
  }

  async putObject(req: PutRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    await this.enter('put', opts.signal);
    const data = checkBody(req.body, req.contentLength, { contentMd5: req.contentMd5 }, false);
    const etag = md5hex(data);
    this.objects.set(id(req), { data, etag, metadata: { ...req.settings.metadata } });
    return { etag };
  }

  async createMultipartUpload(ref: ObjectRef, settings: WriteSettings, opts: RequestOptions & { crc32c?: boolean } = {}): Promise<StartedUpload> {
    await this.enter('create', opts.signal);
    const uploadId = randomUUID();
    const crc32c = opts.crc32c === true && this.crc32cParts;
    this.uploads.set(uploadId, { ...ref, parts: new Map(), settings, crc32c });
    return { uploadId, crc32c };
  }

  async uploadPart(req: UploadPartRequest, opts: RequestOptions = {}): Promise<StoredPart> {
    await this.enter('uploadPart', opts.signal);
    const upload = this.uploads.get(req.uploadId);
    if (!upload) throw new FakeS3Error('NoSuchUpload', 404);
    this.concurrentParts++;
    this.maxConcurrentParts = Math.max(this.maxConcurrentParts, this.concurrentParts);
    try {
      if (this.partDelayMs) await new Promise((r) => setTimeout(r, this.partDelayMs));
      opts.signal?.throwIfAborted();
      this.partChecks.push('crc32c' in req.check ? 'crc32c' : 'md5');
      const data = checkBody(req.body, req.contentLength, req.check, upload.crc32c);
      const etag = md5hex(data);
      const crc = crc32cOf(data);
      upload.parts.set(req.partNumber, { data, etag, ...(upload.crc32c ? { crc32c: crc } : {}) });
      return { etag, ...(upload.crc32c ? { crc32c: crc32cBase64(crc + this.partCrc32cDelta) } : {}) };
    } finally {
      this.concurrentParts--;
    }
  }

  async completeMultipartUpload(ref: ObjectRef, uploadId: string, parts: CompletedPart[], opts: RequestOptions = {}): Promise<void> {
    await this.enter('complete', opts.signal);
    const upload = this.uploads.get(uploadId);
    if (!upload) throw new FakeS3Error('NoSuchUpload', 404);
    const datas: Buffer[] = [];
    const md5s: Buffer[] = [];
    parts.forEach((p, i) => {
      const stored = upload.parts.get(p.partNumber);
      if (!stored || stored.etag !== p.etag) throw new FakeS3Error('InvalidPart', 400);
      if (upload.crc32c && (p.crc32c === undefined || p.crc32c !== crc32cBase64(stored.crc32c!))) throw new FakeS3Error('InvalidPart', 400);
      if (i < parts.length - 1 && stored.data.length < 5 * 1024 * 1024) throw new FakeS3Error('EntityTooSmall', 400);
      datas.push(stored.data);
      md5s.push(Buffer.from(stored.etag, 'hex'));
    });
    const etag = `${md5hex(Buffer.concat(md5s))}-${parts.length}`;
    const crc32c = upload.crc32c ? { crc32c: compositeCrc32c(parts.map((p) => upload.parts.get(p.partNumber)!.crc32c!)) } : {};
    this.objects.set(id(ref), { data: Buffer.concat(datas), etag, metadata: { ...upload.settings.metadata }, ...crc32c });
    this.uploads.delete(uploadId);
  }

  async abortMultipartUpload(_ref: ObjectRef, uploadId: string, opts: RequestOptions = {}): Promise<void> {
    await this.enter('abort', opts.signal);
    this.uploads.delete(uploadId);
  }

  async headObject(ref: ObjectRef, opts: RequestOptions & { checksums?: boolean } = {}): Promise<ObjectHead | undefined> {
    await this.enter('head', opts.signal);
    const o = this.objects.get(id(ref));
    return o && { size: o.data.length + this.headSizeDelta, etag: o.etag, metadata: o.metadata, ...(opts.checksums && o.crc32c && !this.headCrc32cLost ? { crc32c: o.crc32c } : {}) };
  }

  async getObject(ref: ObjectRef, opts: RequestOptions & { start?: number; end?: number } = {}): Promise<GetResult | undefined> {
    await this.enter('get', opts.signal);
    const o = this.objects.get(id(ref));
    if (!o) return undefined;
    const data = o.data.subarray(opts.start ?? 0, opts.end === undefined ? undefined : opts.end + 1);
    return { body: (async function* () { yield data; })(), size: data.length, etag: o.etag };
  }

  /** Through getObject (so a test that replaces it changes this too), copied. */
  async getObjectInto(ref: ObjectRef, into: Buffer, opts: RequestOptions & { start: number; end: number; ifMatch?: string }): Promise<GetIntoResult | undefined> {
    return copiedInto(await this.getObject(ref, opts), into);
  }

  async deleteObject(ref: ObjectRef, opts: RequestOptions = {}): Promise<void> {
    await this.enter('delete', opts.signal);
    this.objects.delete(id(ref));
  }

  /** Keys in `refuse` fail with AccessDenied, as on a store with Object Lock or a write-only key. */
  readonly refuseDelete = new Set<string>();

  async deleteObjects(bucket: string, keys: readonly string[], opts: RequestOptions = {}): Promise<DeleteObjectsResult> {
    await this.enter('delete', opts.signal);
    if (keys.length > 1000) throw new FakeS3Error('MalformedXML', 400, 'more than 1000 keys');
    const out: DeleteObjectsResult = { deleted: [], errors: [] };
    for (const key of keys) {
      if (this.refuseDelete.has(key)) out.errors.push({ key, code: 'AccessDenied', message: 'Access Denied' });
      else {
        this.objects.delete(`${bucket}/${key}`);
        out.deleted.push(key);
      }
    }
    return out;
  }

  async copyObject(from: ObjectRef, to: ObjectRef, _settings: WriteSettings, opts: RequestOptions = {}): Promise<{ etag: string }> {
    await this.enter('copy', opts.signal);
    const o = this.objects.get(id(from));
    if (!o) throw new FakeS3Error('NoSuchKey', 404);
    const etag = o.data.length > 5 * 1024 ** 3 ? '' : md5hex(o.data);
    this.objects.set(id(to), { data: o.data, etag, metadata: { ...o.metadata } });
    return { etag };
  }

  async uploadPartCopy(req: UploadPartCopyRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    await this.enter('copy', opts.signal);
    const upload = this.uploads.get(req.uploadId);
    if (!upload) throw new FakeS3Error('NoSuchUpload', 404);
    const o = this.objects.get(id(req.source));
    if (!o) throw new FakeS3Error('NoSuchKey', 404);
    if (req.last >= o.data.length || req.first > req.last || req.last - req.first + 1 > 5 * 1024 ** 3) throw new FakeS3Error('InvalidRange', 416);
    const data = o.data.subarray(req.first, req.last + 1);
    const etag = md5hex(data);
    upload.parts.set(req.partNumber, { data, etag });
    return { etag };
  }

  async listMultipartUploads(bucket: string, prefix = '', opts: RequestOptions = {}): Promise<OpenUpload[]> {
    await this.enter('list', opts.signal);
    return [...this.uploads.entries()]
      .filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
      .map(([uploadId, u]) => ({ bucket, key: u.key, uploadId }));
  }

  async listObjects(bucket: string, prefix: string, opts: RequestOptions = {}): Promise<ListedObject[]> {
    await this.enter('list', opts.signal);
    return this.keys(bucket)
      .filter((k) => k.startsWith(prefix))
      .map((key) => {
        const o = this.objects.get(`${bucket}/${key}`)!;
        return { key, size: o.data.length, etag: o.etag };
      });
  }

  data(bucket: string, key: string): Buffer | undefined {
    return this.objects.get(`${bucket}/${key}`)?.data;
  }

  keys(bucket: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(`${bucket}/`)).map((k) => k.slice(bucket.length + 1)).sort();
  }
}

function id(ref: ObjectRef): string {
  return `${ref.bucket}/${ref.key}`;
}

function md5hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/**
 * The body, checked against its length and its Content-MD5 (required, as diskless always sends one where it sends
 * no CRC32C) or its x-amz-checksum-crc32c (checked where `crc32c`: an upload begun with CRC32C; ignored elsewhere).
 */
function checkBody(body: readonly Uint8Array[], length: number, check: PartCheck, crc32c: boolean): Buffer {
  const data = Buffer.concat(body.map((b) => Buffer.from(b)));
  if (data.length !== length) throw new FakeS3Error('IncompleteBody', 400);
  const ok = 'crc32c' in check ? !crc32c || crc32cBase64(crc32cOf(data)) === check.crc32c : createHash('md5').update(data).digest('base64') === check.contentMd5;
  if (!ok) throw new FakeS3Error('BadDigest', 400);
  return data;
}
