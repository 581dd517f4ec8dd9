import type { RateLimiter } from '../util/rate-limiter.js';
import type {
  CompletedPart,
  GetResult,
  ObjectHead,
  ObjectRef,
  ObjectStore,
  OpenUpload,
  PutRequest,
  RequestOptions,
  UploadPartRequest,
  WriteSettings,
} from './object-store.js';

/**
 * An ObjectStore whose uploads (PutObject, UploadPart, and every retry of them) share one byte-rate limit: `--bwlimit`
 * holds for all objects of a process together, e.g. every file of a `run`. A request waits for its bytes before it
 * is sent, so the link sees each part at full speed and then a pause: the average, not the peak, is limited.
 */
export class ThrottledStore implements ObjectStore {
  readonly description: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly limiter: RateLimiter,
  ) {
    this.description = inner.description;
  }

  async putObject(req: PutRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    await this.limiter.take(req.contentLength, opts.signal);
    return this.inner.putObject(req, opts);
  }

  async uploadPart(req: UploadPartRequest, opts: RequestOptions = {}): Promise<{ etag: string }> {
    await this.limiter.take(req.contentLength, opts.signal);
    return this.inner.uploadPart(req, opts);
  }

  createMultipartUpload(ref: ObjectRef, settings: WriteSettings, opts?: RequestOptions): Promise<string> {
    return this.inner.createMultipartUpload(ref, settings, opts);
  }

  completeMultipartUpload(ref: ObjectRef, uploadId: string, parts: CompletedPart[], opts?: RequestOptions): Promise<void> {
    return this.inner.completeMultipartUpload(ref, uploadId, parts, opts);
  }

  abortMultipartUpload(ref: ObjectRef, uploadId: string, opts?: RequestOptions): Promise<void> {
    return this.inner.abortMultipartUpload(ref, uploadId, opts);
  }

  headObject(ref: ObjectRef, opts?: RequestOptions): Promise<ObjectHead | undefined> {
    return this.inner.headObject(ref, opts);
  }

  getObject(ref: ObjectRef, opts?: RequestOptions & { start?: number; ifMatch?: string }): Promise<GetResult | undefined> {
    return this.inner.getObject(ref, opts);
  }

  deleteObject(ref: ObjectRef, opts?: RequestOptions): Promise<void> {
    return this.inner.deleteObject(ref, opts);
  }

  copyObject(from: ObjectRef, to: ObjectRef, settings: WriteSettings, opts?: RequestOptions): Promise<{ etag: string }> {
    return this.inner.copyObject(from, to, settings, opts);
  }

  listMultipartUploads(bucket: string, prefix?: string, opts?: RequestOptions): Promise<OpenUpload[]> {
    return this.inner.listMultipartUploads(bucket, prefix, opts);
  }
}
