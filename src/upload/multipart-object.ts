import { VerificationError } from '../errors.js';
import { formatBytes } from '../util/size.js';
import { compositeEtag } from './etag.js';
import type { ObjectRef, WriteSettings } from './object-store.js';
import { deleteOwnObject, notOurs } from './owned-object.js';
import type { PartBuffer } from './part-buffer.js';
import { retryWarning, withRetry, type RetryInfo, type RetryPolicy } from './retry.js';
import { S3_MIN_PART_SIZE } from './s3-limits.js';
import type { UploadContext } from './upload-context.js';

export interface PartRecord {
  partNumber: number;
  size: number;
  /** Set once the part is hashed (before it is sent). */
  md5?: Buffer;
  etag?: string;
}

/** What a committed object is: enough to verify it later without downloading it. */
export interface ObjectSummary extends ObjectRef {
  size: number;
  etag: string;
  parts: number;
  /** Distinct part sizes in order of use (the last part may be shorter). */
  partSizes: number[];
  crc32c: string;
  /** The writer id the object carries (owned-object.ts): what lets diskless prove it wrote it. */
  writer: string;
}

/**
 * One multipart upload: parts go up with bounded concurrency as they fill; `complete` reviews
 * the parts (numbers, sizes, per-part MD5 against the returned ETag), completes, and checks the
 * stored object's size and composite ETag with HeadObject (RGW's Complete response has an empty
 * ETag). Any mismatch deletes the object. `abort` waits for parts in flight, then aborts, so no
 * part is left behind.
 */
export class MultipartObject {
  private uploadId: string | undefined;
  private readonly parts: PartRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private completed = false;
  private aborted = false;
  private expectedEtag: string | undefined;

  constructor(
    private readonly ctx: UploadContext,
    readonly ref: ObjectRef,
    private readonly settings: WriteSettings,
    /** The stream's writer id, also in `settings.metadata` (owned-object.ts). */
    private readonly writer: string,
    private readonly etagIsMd5: boolean,
    /** Aborted on the first failure anywhere in the stream: cancels requests in flight. */
    private readonly signal: AbortSignal,
    /** Called with the error of a part that failed for good. */
    private readonly onFailure: (err: unknown) => void,
  ) {}

  get bytes(): number {
    return this.parts.reduce((n, p) => n + p.size, 0);
  }

  get partCount(): number {
    return this.parts.length;
  }

  async start(): Promise<void> {
    this.uploadId = await withRetry(
      () => this.ctx.store.createMultipartUpload(this.ref, this.settings, { signal: this.signal }),
      this.ctx.retry,
      { what: `CreateMultipartUpload of ${this.ref.key}`, signal: this.signal, onRetry: this.logRetry },
    );
    await this.ctx.journal?.add({ ...this.ref, uploadId: this.uploadId, store: this.ctx.store.description });
    this.ctx.log.debug(`started multipart upload of ${this.ref.key}`);
  }

  /**
   * Sends a full part in the background. Waits first for a request slot (backpressure); the part
   * hashes meanwhile (part.digest(), off the main thread); its memory returns to the budget when the
   * store has it.
   */
  async addPart(partNumber: number, part: PartBuffer): Promise<void> {
    const uploadId = this.uploadId;
    if (!uploadId) throw new Error('addPart before start');
    const record: PartRecord = { partNumber, size: part.length };
    this.parts.push(record);
    const digest = part.digest();
    try {
      await this.ctx.requests.acquire(this.signal);
    } catch (err) {
      part.release();
      throw err;
    }
    const body = part.chunks();
    const task = digest
      .then(({ md5 }) => {
        record.md5 = md5;
        return withRetry(
          () =>
            this.ctx.store.uploadPart(
              { ...this.ref, uploadId, partNumber, body, contentLength: record.size, contentMd5: md5.toString('base64') },
              { signal: this.signal },
            ),
          this.ctx.retry,
          { what: `UploadPart ${partNumber} of ${this.ref.key}`, signal: this.signal, onRetry: this.logRetry },
        );
      })
      .then(({ etag }) => {
        const md5 = record.md5!.toString('hex');
        if (this.etagIsMd5 && etag !== '' && etag !== md5) {
          throw new VerificationError(
            `part ${partNumber} of ${this.ref.key}: the store answered ETag ${etag}, but the part's MD5 is ${md5}`,
          );
        }
        record.etag = etag;
        this.ctx.meter?.bytesStored(record.size);
      })
      .catch((err: unknown) => this.onFailure(err))
      .finally(() => {
        part.release();
        this.ctx.requests.release();
        this.inFlight.delete(task);
      });
    this.inFlight.add(task);
  }

  /** Resolves when every part sent so far has settled. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Reviews, completes and verifies the object. Call after `settle()` with no failure. */
  async complete(crc32c: string, createOnly = false): Promise<ObjectSummary> {
    await this.settle();
    const uploadId = this.uploadId!;
    this.review();
    const expectedEtag = compositeEtag(this.parts.map((p) => p.md5!));
    this.expectedEtag = expectedEtag;
    const size = this.bytes;
    const parts = this.parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag! }));
    try {
      await withRetry(
        () => this.ctx.store.completeMultipartUpload(this.ref, uploadId, parts, { signal: this.signal, ...(createOnly ? { ifNoneMatch: true } : {}) }),
        this.ctx.retry,
        { what: `CompleteMultipartUpload of ${this.ref.key}`, signal: this.signal, onRetry: this.logRetry },
      );
    } catch (err) {
      // A Complete whose answer was lost may have worked: the retry then gets NoSuchUpload.
      const head = await this.ctx.store.headObject(this.ref).catch(() => undefined);
      if (!head || head.size !== size || notOurs(head, this.owned()) !== undefined) throw err;
    }
    this.completed = true;
    await this.ctx.journal?.remove(uploadId);
    await this.verifyStored(size, expectedEtag);
    return {
      ...this.ref,
      size,
      etag: expectedEtag,
      parts: this.parts.length,
      partSizes: distinctInOrder(this.parts.map((p) => p.size)),
      crc32c,
      writer: this.writer,
    };
  }

  /** Undoes the object: aborts the upload, or deletes the object if it was completed. */
  async abort(policy: RetryPolicy): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    await this.settle();
    const uploadId = this.uploadId;
    if (!uploadId) return;
    const fresh = AbortSignal.timeout(policy.retryForMs + 30_000);
    if (this.completed) {
      // Only if the key still holds what this upload wrote: another writer may have replaced it.
      await deleteOwnObject({ ...this.ctx, retry: policy }, this.owned(), fresh);
      return;
    }
    await withRetry(() => this.ctx.store.abortMultipartUpload(this.ref, uploadId, { signal: fresh }), policy, {
      what: `AbortMultipartUpload of ${this.ref.key}`,
      signal: fresh,
    });
    await this.ctx.journal?.remove(uploadId);
    this.ctx.log.debug(`aborted multipart upload of ${this.ref.key}`);
  }

  private review(): void {
    const problems: string[] = [];
    this.parts.forEach((p, i) => {
      if (p.partNumber !== i + 1) problems.push(`part ${i + 1} is numbered ${p.partNumber}`);
      if (p.etag === undefined || p.md5 === undefined) problems.push(`part ${p.partNumber} has no ETag`);
      if (i < this.parts.length - 1 && p.size < S3_MIN_PART_SIZE) {
        problems.push(`part ${p.partNumber} has ${formatBytes(p.size)}, under S3's 5 MiB minimum`);
      }
    });
    if (problems.length > 0) {
      throw new VerificationError(`upload review of ${this.ref.key} failed: ${problems.join('; ')}`);
    }
  }

  private async verifyStored(size: number, expectedEtag: string): Promise<void> {
    const head = await withRetry(() => this.ctx.store.headObject(this.ref, { signal: this.signal }), this.ctx.retry, {
      what: `HeadObject ${this.ref.key}`,
      signal: this.signal,
    });
    const replaced = head ? notOurs(head, { ...this.ref, writer: this.writer }) : undefined;
    const problem = !head
      ? 'the object is missing after CompleteMultipartUpload'
      : replaced
        ? `another writer replaced it while this upload completed (${replaced}); this upload's data is not stored there`
        : head.size !== size
        ? `the store holds ${head.size} bytes, ${size} were sent`
        : this.etagIsMd5 && head.etag !== expectedEtag
          ? `the store's ETag is ${head.etag}, the data's is ${expectedEtag}`
          : undefined;
    if (problem) throw new VerificationError(`verification of ${this.ref.key} failed: ${problem}`);
  }

  private owned() {
    return { ...this.ref, writer: this.writer, ...(this.etagIsMd5 && this.expectedEtag ? { etag: this.expectedEtag } : {}) };
  }

  private readonly logRetry = (info: RetryInfo) => this.ctx.log.warn(retryWarning(info));
}

function distinctInOrder(values: number[]): number[] {
  const out: number[] = [];
  for (const v of values) if (out[out.length - 1] !== v) out.push(v);
  return out;
}

