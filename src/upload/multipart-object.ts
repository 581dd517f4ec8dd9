import { VerificationError } from '../errors.js';
import { formatBytes } from '../util/size.js';
import { compositeEtag } from './etag.js';
import type { ObjectHead, ObjectRef, WriteSettings } from './object-store.js';
import { compositeCrc32c, crc32cBase64 } from './part-checksum.js';
import { deleteOwnObject, notOurs } from './owned-object.js';
import type { PartBuffer } from './part-buffer.js';
import { retryWarning, withRetry, type RetryInfo, type RetryPolicy } from './retry.js';
import { S3_MIN_PART_SIZE } from './s3-limits.js';
import type { UploadContext } from './upload-context.js';

export interface PartRecord {
  partNumber: number;
  size: number;
  /** Set once the part is hashed (before it is sent): its MD5, or its CRC32C for an upload with CRC32C part checksums. */
  md5?: Buffer;
  crc32c?: number;
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
 * part is left behind. When the store took CRC32C part checksums (part-checksum.ts), each part
 * carries its CRC32C instead of Content-MD5, and the check after Complete is of the composite CRC32C.
 */
export class MultipartObject {
  private uploadId: string | undefined;
  private readonly parts: PartRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private completed = false;
  private aborted = false;
  private expectedEtag: string | undefined;
  /** The store took CRC32C part checksums for this upload (start). */
  private crc32cParts = false;

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

  /** Whether a part must be hashed with its MD5 before addPart (false when it carries a CRC32C checksum). */
  get partsNeedMd5(): boolean {
    return !this.crc32cParts;
  }

  async start(): Promise<void> {
    const asked = this.ctx.crc32cParts === true;
    const started = await withRetry(
      () => this.ctx.store.createMultipartUpload(this.ref, this.settings, { signal: this.signal, crc32c: asked }),
      this.ctx.retry,
      { what: `CreateMultipartUpload of ${this.ref.key}`, signal: this.signal, onRetry: this.logRetry },
    );
    this.uploadId = started.uploadId;
    this.crc32cParts = started.crc32c;
    if (asked && !started.crc32c) this.ctx.log.debug(`the store began ${this.ref.key} without CRC32C part checksums: its parts carry Content-MD5`);
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
    const crc32cParts = this.crc32cParts;
    const digest = part.digest(!crc32cParts);
    try {
      await this.ctx.requests.acquire(this.signal);
    } catch (err) {
      part.release();
      throw err;
    }
    const body = part.chunks();
    const task = digest
      .then((d) => {
        if (crc32cParts) record.crc32c = d.crc32c;
        else record.md5 = d.md5;
        const check = crc32cParts ? { crc32c: crc32cBase64(d.crc32c) } : { contentMd5: d.md5!.toString('base64') };
        return withRetry(
          () => this.ctx.store.uploadPart({ ...this.ref, uploadId, partNumber, body, contentLength: record.size, check }, { signal: this.signal }),
          this.ctx.retry,
          { what: `UploadPart ${partNumber} of ${this.ref.key}`, signal: this.signal, onRetry: this.logRetry },
        );
      })
      .then(({ etag, crc32c }) => {
        if (crc32cParts) {
          const ours = crc32cBase64(record.crc32c!);
          if (crc32c !== undefined && crc32c !== ours) {
            throw new VerificationError(`part ${partNumber} of ${this.ref.key}: the store answered CRC32C ${crc32c}, but the part's is ${ours}`);
          }
        } else {
          const md5 = record.md5!.toString('hex');
          if (this.etagIsMd5 && etag !== '' && etag !== md5) {
            throw new VerificationError(`part ${partNumber} of ${this.ref.key}: the store answered ETag ${etag}, but the part's MD5 is ${md5}`);
          }
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
    // With CRC32C part checksums no MD5 is known: the check is of the composite CRC32C, and the ETag is the store's.
    const expectedEtag = this.crc32cParts ? undefined : compositeEtag(this.parts.map((p) => p.md5!));
    const expectedCrc32c = this.crc32cParts ? compositeCrc32c(this.parts.map((p) => p.crc32c!)) : undefined;
    this.expectedEtag = expectedEtag;
    const size = this.bytes;
    const parts = this.parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag!, ...(p.crc32c !== undefined ? { crc32c: crc32cBase64(p.crc32c) } : {}) }));
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
    const stored = await this.verifyStored(size, expectedEtag, expectedCrc32c);
    return {
      ...this.ref,
      size,
      etag: expectedEtag ?? stored.etag,
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
      if (p.etag === undefined || (p.md5 === undefined && p.crc32c === undefined)) problems.push(`part ${p.partNumber} has no ETag`);
      if (i < this.parts.length - 1 && p.size < S3_MIN_PART_SIZE) {
        problems.push(`part ${p.partNumber} has ${formatBytes(p.size)}, under S3's 5 MiB minimum`);
      }
    });
    if (problems.length > 0) {
      throw new VerificationError(`upload review of ${this.ref.key} failed: ${problems.join('; ')}`);
    }
  }

  private async verifyStored(size: number, expectedEtag: string | undefined, expectedCrc32c: string | undefined): Promise<ObjectHead> {
    const checksums = expectedCrc32c !== undefined;
    const head = await withRetry(() => this.ctx.store.headObject(this.ref, { signal: this.signal, checksums }), this.ctx.retry, {
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
        : expectedEtag !== undefined && this.etagIsMd5 && head.etag !== expectedEtag
          ? `the store's ETag is ${head.etag}, the data's is ${expectedEtag}`
          : checksums && head.crc32c !== expectedCrc32c
            ? head.crc32c === undefined
              ? 'the store gave no CRC32C of the object, though it took CRC32C part checksums (use --part-checksum md5)'
              : `the store's CRC32C is ${head.crc32c}, the data's is ${expectedCrc32c}`
            : undefined;
    if (problem || !head) throw new VerificationError(`verification of ${this.ref.key} failed: ${problem ?? 'no object'}`);
    return head;
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

