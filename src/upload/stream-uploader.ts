import { createHash, randomUUID, type Hash } from 'node:crypto';
import { crc32cCombine, crc32cToHex } from '../checksum/crc32c.js';
import { DisklessError, ProducerError, UploadError, VerificationError, describeError } from '../errors.js';
import { formatBytes } from '../util/size.js';
import { CHAIN_FORMAT, CHAIN_ID_METADATA, chainIndexKey, continuationKey, type ChainIndex } from './chain.js';
import { fdReader, isByteReader, type ByteReader } from './byte-reader.js';
import { etagIsMd5 } from './etag.js';
import { MultipartObject, type ObjectSummary } from './multipart-object.js';
import { deleteOwnObject, WRITER_METADATA, type OwnedRef } from './owned-object.js';
import { putVerified } from './single-object.js';
import type { ObjectRef, WriteSettings } from './object-store.js';
import type { Reservation } from './memory-budget.js';
import { PartBuffer } from './part-buffer.js';
import { PartSequence, streamMemoryCap, type PartPlan, type PartSlot } from './part-planner.js';
import { S3_MIN_PART_SIZE } from './s3-limits.js';
import type { UploadContext } from './upload-context.js';

/**
 * What to upload: any async iterable of bytes (a test generator, the age encryptor's output), or a
 * reader of bytes straight into the upload buffers (byte-reader.ts: the shim's socket), or a file
 * descriptor (stdin, a producer's pipe) read so with fs.read: no intermediate chunk is then
 * allocated, copied and garbage-collected per 64 KiB.
 */
export type ByteSource = AsyncIterable<Uint8Array> | ByteReader | { fd: number };

export interface StreamUploadOptions {
  target: ObjectRef;
  plan: PartPlan;
  settings?: WriteSettings;
  /** Also compute a SHA-256 of the whole stream (for users who compare with sha256sum). */
  sha256?: boolean;
  /**
   * Runs after the input ended and every byte is stored, before anything becomes visible; throw
   * to abort instead of committing (e.g. the producing command exited non-zero).
   */
  beforeCommit?: () => Promise<void>;
  /** Aborting it (e.g. on SIGINT) aborts the upload; nothing is committed. */
  signal?: AbortSignal;
  /**
   * Commit only if the key holds no object (If-None-Match: *, where the store honours it: Ceph RGW 16
   * does for PutObject, not for CompleteMultipartUpload). `put` without --overwrite.
   */
  createOnly?: boolean;
  onProgress?: (progress: { bytesRead: number }) => void;
  /**
   * Called once, when the input has ended cleanly and every byte of it is in the part buffers (the
   * budget's memory) or already sent; the upload then goes on to store it (run --close received).
   */
  onInputEnd?: () => void;
  /**
   * A stream stored with one PutObject is checked by the caller in a listing before its commit
   * (single-object.ts, `checkLater`) instead of with a HeadObject now (run and serve: many small files).
   */
  checkLater?: boolean;
}

export interface StreamUploadResult extends ObjectRef {
  size: number;
  /** ETag of the object at the key (object 0 of a chain). */
  etag: string;
  crc32c: string;
  sha256?: string;
  /** Every object written, object 0 first; more than one when the stream was split. */
  objects: ObjectSummary[];
  /** Stored with one PutObject whose HeadObject check was left to the caller (options.checkLater). */
  checkLater?: true;
  parts: number;
  elapsedMs: number;
}

/**
 * Streams bytes of unknown length into one object, or a chain of objects (chain.ts), with the
 * memory of the shared budget and the request slots of the context. Nothing becomes visible
 * unless the input ended cleanly, `beforeCommit` passed, and every object verified; on any
 * failure every multipart upload is aborted and every completed piece deleted.
 */
export async function uploadStream(
  ctx: UploadContext,
  source: ByteSource,
  options: StreamUploadOptions,
): Promise<StreamUploadResult> {
  const started = Date.now();
  const run = new StreamRun(ctx, options);
  ctx.meter?.streamStarted();
  try {
    const result = await run.execute(source);
    return { ...result, elapsedMs: Date.now() - started };
  } catch (err) {
    await run.undo(err);
    throw err;
  } finally {
    run.leaveBudget();
    ctx.meter?.streamEnded();
  }
}

class StreamRun {
  private readonly failure = new AbortController();
  private firstError: unknown;
  private readonly objects: MultipartObject[] = [];
  /**
   * Each sent part's CRC32C, in stream order (parts hash on the thread pool, part-buffer.ts); the
   * stream's and each object's CRC32C are combined from them (crc32cCombine) before the commit.
   */
  private readonly partCrcs: Array<Promise<{ objectIndex: number; crc: number; size: number }>> = [];
  private crcs: { stream: string; objects: string[] } | undefined;
  private readonly sha: Hash | undefined;
  private shaHex: string | undefined;
  private readonly chainId = randomUUID();
  /** The writer id on every object of this stream (owned-object.ts). */
  private readonly writer = randomUUID();
  private readonly settings: WriteSettings;
  private readonly signal: AbortSignal;
  private readonly sequence: PartSequence;
  private slot!: PartSlot;
  private part: PartBuffer | undefined;
  private bytesRead = 0;
  private reservation: Reservation | undefined;
  /** The reservation holds a minimum part (growPast), not just its first slab. */
  private grown = false;
  /** The input, when it reads into the part buffers: a failed run gives its memory back once it is quiet. */
  private reader: ByteReader | undefined;
  private chainIndexWritten = false;
  private singleCommitted = false;

  constructor(
    private readonly ctx: UploadContext,
    private readonly options: StreamUploadOptions,
  ) {
    this.sha = options.sha256 ? createHash('sha256') : undefined;
    this.sequence = new PartSequence(options.plan);
    this.settings = { ...options.settings, metadata: { ...options.settings?.metadata, [WRITER_METADATA]: this.writer } };
    this.signal = options.signal ? AbortSignal.any([options.signal, this.failure.signal]) : this.failure.signal;
  }

  async execute(source: ByteSource): Promise<Omit<StreamUploadResult, 'elapsedMs'>> {
    this.slot = this.sequence.next();
    // No byte is read before the budget has room for a minimum part for this stream; one slab of it is set
    // aside now, the rest once the stream passes that slab (growPast): a small file needs no more (memory-budget.ts).
    const early = this.options.plan.equalParts ? this.slot.size : Math.min(S3_MIN_PART_SIZE, this.slot.size);
    const slab = this.ctx.budget.slabSize;
    const cap = Math.ceil(streamMemoryCap(this.options.plan, this.ctx.requests.limit) / slab);
    this.reservation = await this.ctx.budget.admit(Math.ceil(early / slab), this.signal, cap, 1);
    this.part = this.newPart(this.slot);
    // Test for the iterator, not for `fd`: Node's streams (process.stdin) have an `fd` property too.
    if (!isIterable(source)) {
      const reader = isByteReader(source) ? source : fdReader(source.fd);
      this.reader = reader;
      for (;;) {
        this.throwIfStopped();
        const part = await this.roomyPart();
        await this.growPast(1);
        const view = await this.readInto(part, reader);
        if (view === null) break;
        this.count(view);
      }
      this.options.onInputEnd?.();
      return this.finish();
    }
    const input = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const chunk = await this.read(input);
        if (chunk === undefined) break;
        for (let offset = 0; offset < chunk.length; ) {
          this.throwIfStopped();
          const part = await this.roomyPart();
          await this.growPast(chunk.length - offset);
          const n = await part.fill(chunk, offset, this.signal);
          this.count(chunk.subarray(offset, offset + n));
          offset += n;
        }
      }
    } catch (err) {
      // After an abort a read may still be pending (a writer that keeps its file open): do not wait for it.
      const closing = input.return?.().catch(() => undefined);
      if (!this.signal.aborted) await closing;
      throw this.signal.aborted ? this.stopReason(err) : err;
    }
    this.options.onInputEnd?.();
    return this.finish();
  }

  /**
   * Before the stream takes `bytes` more: once they would pass its first slab, its reservation grows
   * to a minimum part (waiting for it as an admission does), so it can always send a part early.
   */
  private async growPast(bytes: number): Promise<void> {
    if (this.grown || this.bytesRead + bytes <= this.ctx.budget.slabSize) return;
    this.grown = true;
    await this.reservation!.grow(this.signal);
  }

  /** The part to fill next: the current one, or a new one after sending it if it is full or starved. */
  private async roomyPart(): Promise<PartBuffer> {
    if (this.part!.isFull || this.part!.starved) {
      await this.dispatch(this.slot, this.part!);
      this.slot = this.sequence.next();
      this.part = this.newPart(this.slot);
    }
    return this.part!;
  }

  private async finish(): Promise<Omit<StreamUploadResult, 'elapsedMs'>> {
    this.throwIfStopped();
    // The input ended: this stream takes no more slabs, so its unused guarantee goes back now and
    // admits the next file while this one is stored (the slabs it holds return as its parts settle).
    this.leaveBudget();
    const part = this.part!;
    if (this.objects.length === 0) return this.commitSingle(part);
    // An input read from an fd that ends just after a full part leaves a new, empty part: it is not
    // sent (an empty UploadPart, or an object of none for a chain, would be stored for nothing).
    if (part.length > 0) await this.dispatch(this.slot, part);
    else part.release();
    this.part = undefined;
    return this.commitMultipart();
  }

  private async readInto(part: PartBuffer, reader: ByteReader): Promise<Uint8Array | null> {
    try {
      return await part.readFrom(reader, this.signal);
    } catch (err) {
      if (this.signal.aborted) throw this.stopReason(err);
      if (DisklessError.is(err)) throw err;
      throw new ProducerError(`reading the input failed: ${describeError(err)}`, {}, { cause: err });
    }
  }

  /** The stream ended: its guarantee goes back to the budget (slabs in flight return as they settle). */
  leaveBudget(): void {
    this.reservation?.close();
  }

  /** Aborts and deletes whatever this run stored. Never throws; reports what it could not undo. */
  async undo(cause: unknown): Promise<void> {
    this.fail(cause);
    // A reader may still read into the part's last slab until it is quiet (socket-reader.ts).
    const part = this.part;
    const quiet = this.reader?.quiesced?.();
    if (quiet) void quiet.then(() => part?.release());
    else part?.release();
    // Cleanup gets a shorter retry budget: after a store stopped answering, the run must still end soon;
    // what cannot be aborted now stays in the journal for the next run or `diskless gc`.
    const policy = { ...this.ctx.retry, retryForMs: Math.min(this.ctx.retry.retryForMs, 10_000) };
    const key = this.options.target.key;
    const jobs: Array<Promise<unknown>> = this.objects.map((o) => o.abort(policy));
    const own = (ref: OwnedRef) => deleteOwnObject({ ...this.ctx, retry: policy }, ref, AbortSignal.timeout(policy.retryForMs + 30_000));
    if (this.chainIndexWritten) jobs.push(own({ bucket: this.options.target.bucket, key: chainIndexKey(key), writer: this.writer }));
    if (this.singleCommitted) jobs.push(own({ ...this.options.target, writer: this.writer }));
    const results = await Promise.allSettled(jobs);
    for (const r of results) {
      if (r.status === 'rejected') {
        this.ctx.log.warn(
          `could not clean up after the failed upload of ${key}: ${describeError(r.reason)}; ` +
            'the next diskless run (or `diskless gc`) aborts what is left',
        );
      }
    }
  }

  /**
   * With many streams sharing one budget (diskless run), every slab can end up in parts that are
   * still filling, and none would ever be sent. A part that already has S3's minimum size is sent
   * early when it needs a slab and none is free, which frees memory for everyone (not with
   * --equal-parts, whose parts must all have the planned size).
   */
  private newPart(slot: PartSlot): PartBuffer {
    const early = this.options.plan.equalParts ? Number.POSITIVE_INFINITY : S3_MIN_PART_SIZE;
    return new PartBuffer(this.ctx.budget, slot.size, early, this.reservation);
  }

  /** The next chunk of input, undefined at its end; a failing input is the producer's failure. */
  private async read(input: AsyncIterator<Uint8Array>): Promise<Uint8Array | undefined> {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await abortable(input.next(), this.signal);
    } catch (err) {
      if (this.signal.aborted) throw this.stopReason(err);
      if (DisklessError.is(err)) throw err;
      throw new ProducerError(`reading the input failed: ${describeError(err)}`, {}, { cause: err });
    }
    return next.done ? undefined : next.value;
  }

  /** Bytes now in a part: counted, and hashed with SHA-256 when asked (MD5 and CRC32C are per part). */
  private count(bytes: Uint8Array): void {
    this.sha?.update(bytes);
    this.bytesRead += bytes.length;
    this.ctx.meter?.bytesRead(bytes.length);
    this.options.onProgress?.({ bytesRead: this.bytesRead });
  }

  private async dispatch(slot: PartSlot, part: PartBuffer): Promise<void> {
    let object = this.objects[slot.objectIndex];
    if (!object) {
      const ref = { bucket: this.options.target.bucket, key: continuationKey(this.options.target.key, slot.objectIndex) };
      const settings = {
        ...this.settings,
        metadata: { ...this.settings.metadata, [CHAIN_ID_METADATA]: this.chainId, 'diskless-piece': String(slot.objectIndex) },
      };
      object = new MultipartObject(this.ctx, ref, settings, this.writer, etagIsMd5(this.settings.sse), this.signal, (e) => this.fail(e));
      this.objects[slot.objectIndex] = object;
      await object.start();
      if (slot.objectIndex > 0) this.ctx.log.info(`stream passed ${formatBytes(this.bytesRead)}: continuing in ${ref.key}`);
    }
    const size = part.length;
    const crc = part.digest(object.partsNeedMd5).then((d) => ({ objectIndex: slot.objectIndex, crc: d.crc32c, size }));
    crc.catch(() => undefined); // a failed hash fails the part's upload, which reports it
    this.partCrcs.push(crc);
    await object.addPart(slot.partNumber, part);
  }

  private async commitSingle(part: PartBuffer): Promise<Omit<StreamUploadResult, 'elapsedMs'>> {
    const target = this.options.target;
    await this.options.beforeCommit?.();
    this.throwIfStopped();
    let stored: { etag: string; size: number; checkLater?: true };
    let crc32c: string;
    try {
      const digest = await part.digest();
      crc32c = crc32cToHex(digest.crc32c);
      stored = await putVerified(this.ctx, target, part.chunks(), this.settings, this.signal, {
        onStored: () => (this.singleCommitted = true),
        md5: digest.md5,
        createOnly: this.options.createOnly ?? false,
        checkLater: this.options.checkLater ?? false,
      });
    } finally {
      part.release();
      this.part = undefined;
    }
    this.ctx.meter?.bytesStored(stored.size);
    const summary: ObjectSummary = { ...target, size: stored.size, etag: stored.etag, parts: 1, partSizes: [stored.size], crc32c, writer: this.writer };
    return { ...target, size: stored.size, etag: stored.etag, crc32c, ...this.shaField(), objects: [summary], parts: 1, ...(stored.checkLater ? { checkLater: true as const } : {}) };
  }

  private async commitMultipart(): Promise<Omit<StreamUploadResult, 'elapsedMs'>> {
    await Promise.all(this.objects.map((o) => o.settle()));
    this.throwIfStopped();
    const total = this.objects.reduce((n, o) => n + o.bytes, 0);
    if (total !== this.bytesRead) {
      throw new VerificationError(`upload review failed: ${this.bytesRead} bytes read but parts hold ${total}`);
    }
    this.crcs = await this.combinedCrcs();
    await this.options.beforeCommit?.();
    this.throwIfStopped();
    // Continuations first, then the index, then object 0: KEY appears only when all is stored.
    const summaries: ObjectSummary[] = [];
    for (let i = 1; i < this.objects.length; i++) summaries[i] = await this.objects[i]!.complete(this.objectCrc(i));
    if (this.objects.length > 1) await this.writeChainIndex(summaries);
    summaries[0] = await this.objects[0]!.complete(this.objectCrc(0), this.options.createOnly ?? false);
    const first = summaries[0];
    return {
      ...this.options.target,
      size: this.bytesRead,
      etag: first.etag,
      crc32c: this.crcs.stream,
      ...this.shaField(),
      objects: summaries,
      parts: summaries.reduce((n, s) => n + s.parts, 0),
    };
  }

  private async writeChainIndex(summaries: ObjectSummary[]): Promise<void> {
    const target = this.options.target;
    const objects = [...summaries];
    // Object 0 is not completed yet; its summary is what it will be.
    const o0 = this.objects[0]!;
    objects[0] = { ...o0.ref, size: o0.bytes, etag: '', parts: o0.partCount, partSizes: [], crc32c: this.objectCrc(0), writer: this.writer };
    const index: ChainIndex = {
      format: CHAIN_FORMAT,
      chainId: this.chainId,
      key: target.key,
      size: this.bytesRead,
      crc32c: this.crcs!.stream,
      ...this.shaField(),
      objects,
    };
    const body = Buffer.from(JSON.stringify(index, null, 1));
    const ref = { bucket: target.bucket, key: chainIndexKey(target.key) };
    await putVerified(this.ctx, ref, [body], { ...this.settings, contentType: 'application/json' }, this.signal, { onStored: () => (this.chainIndexWritten = true) });
    this.chainIndexWritten = true;
  }

  /** CRC32C of object `i` of the chain (for a stream that is one object, the stream's). */
  private objectCrc(i: number): string {
    return this.crcs!.objects[i]!;
  }

  /** The stream's and each object's CRC32C, joined from the parts' in order. */
  private async combinedCrcs(): Promise<{ stream: string; objects: string[] }> {
    let stream = 0;
    const objects: number[] = [];
    for (const { objectIndex, crc, size } of await Promise.all(this.partCrcs)) {
      stream = crc32cCombine(stream, crc, size);
      objects[objectIndex] = crc32cCombine(objects[objectIndex] ?? 0, crc, size);
    }
    return { stream: crc32cToHex(stream), objects: objects.map(crc32cToHex) };
  }

  private shaField(): { sha256?: string } {
    if (!this.sha) return {};
    this.shaHex ??= this.sha.digest('hex');
    return { sha256: this.shaHex };
  }

  private fail(err: unknown): void {
    if (this.firstError === undefined) {
      this.firstError = err;
      this.failure.abort(err);
    }
  }

  private throwIfStopped(): void {
    if (this.signal.aborted) throw this.stopReason(this.signal.reason);
  }

  /** The error that explains the stop: the first failure, else the caller's abort reason. */
  private stopReason(fallback: unknown): unknown {
    if (this.firstError !== undefined) return this.firstError;
    if (this.options.signal?.aborted) return this.options.signal.reason;
    return fallback instanceof Error ? fallback : new UploadError(describeError(fallback));
  }
}

/** `promise`, or the signal's reason as soon as it aborts (the promise is then left to settle alone). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => (signal.removeEventListener('abort', onAbort), resolve(v)),
      (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

function isIterable(source: ByteSource): source is AsyncIterable<Uint8Array> {
  return Symbol.asyncIterator in source && !isByteReader(source);
}
