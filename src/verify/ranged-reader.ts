import { UploadError, VerificationError, describeError } from '../errors.js';
import type { ReadContext } from '../download/object-reader.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { ObjectRef } from '../upload/object-store.js';
import { withRetry } from '../upload/retry.js';
import type { Limiter } from '../util/limiter.js';

export interface RangedReadOptions {
  /** Bytes per ranged GET (default 8 MiB; with `buffers`, their size). */
  chunkSize?: number;
  /** Ranged GETs of this object in flight (default 4); memory is at most chunkSize × window. */
  window?: number;
  /** First byte to read (default 0): the ranges then cover `start` to the end. */
  start?: number;
  /** Request slots shared by every object being read. */
  requests?: Limiter;
  signal?: AbortSignal;
  /** Told the size of each range as it is handed on (progress lines). */
  onBytes?: (n: number) => void;
  /**
   * Where the ranges land (default: a pool of `window + 1` buffers of the reader's own, made as needed and reused).
   * Buffers of the caller's (one range each, `chunkSize` bytes or more): a range starts only when `take` gives one, up to
   * `window` in flight, and each goes back through `give` once the consumer is done with it, or
   * when the read ends or fails (after the GETs still writing into them have stopped). `take`
   * must give one whenever no buffer is out: that is what keeps the read going.
   */
  buffers?: RangeBuffers;
}

/** Where `readRanged` gets the buffers its ranges land in (read-ahead.ts: one of its own, more from the memory budget). */
export interface RangeBuffers {
  /** A buffer for the next range, or undefined: none to spare now (then fewer ranges are in flight). */
  take(): Buffer | undefined;
  give(buffer: Buffer): void;
}

/** The object is not there (any more). */
export class ObjectGoneError extends UploadError {}

export const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
export const DEFAULT_WINDOW = 4;

/**
 * The bytes of one object, in order, one range per chunk, read with up to `window` ranged GETs in flight, each
 * pinned to the object's ETag (If-Match) so a replaced object fails instead of mixing two versions; a GET that
 * fails is retried as a whole range. Each range lands in a reused buffer (over plain HTTP straight from the
 * socket: socket-http.ts), **valid only until the next is asked for**: the consumer must be done with it, writes
 * included, before it resumes the loop. Memory: at most `window + 1` buffers of `chunkSize` per object read.
 */
export async function* readRanged(
  ctx: ReadContext,
  ref: ObjectRef & { size: number; etag?: string },
  options: RangedReadOptions = {},
): AsyncGenerator<Buffer> {
  const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const window = options.window ?? DEFAULT_WINDOW;
  const from = Math.min(options.start ?? 0, ref.size);
  const count = Math.ceil((ref.size - from) / chunk);
  if (count === 0) return;
  // At most `window` ranges are in flight and one is with the consumer: a pool of window + 1 never runs dry.
  const buffers = options.buffers ?? reusedBuffers(Math.min(chunk, ref.size - from));
  // Caller buffers go back only once no GET writes into them any more: an early end stops the GETs first.
  const stop = options.buffers ? new AbortController() : undefined;
  const signal = stop ? (options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal) : options.signal;
  const fetchOptions = signal === options.signal ? options : { ...options, signal };
  const pending: Array<{ range: Promise<Buffer>; into: Buffer }> = [];
  let next = 0;
  const fill = () => {
    while (next < count && pending.length < window) {
      const into = buffers.take();
      if (!into) return;
      const i = next++;
      const range = fetchRange(ctx, ref, from + i * chunk, Math.min(ref.size, from + (i + 1) * chunk) - 1, fetchOptions, into);
      range.catch(() => undefined); // awaited in order below; an early failure must not be unhandled
      pending.push({ range, into });
    }
  };
  let lent: Buffer | undefined;
  try {
    fill();
    while (pending.length > 0) {
      const { range, into } = pending.shift()!;
      lent = into;
      const bytes = await range;
      fill();
      options.onBytes?.(bytes.length);
      yield bytes;
      // The consumer asked for the next range: it is done with this one.
      buffers.give(lent);
      lent = undefined;
      fill();
    }
  } finally {
    if (stop && (pending.length > 0 || lent)) {
      stop.abort(new Error('the read ended early'));
      await Promise.allSettled(pending.map((p) => p.range));
      for (const p of pending) buffers.give(p.into);
      if (lent) buffers.give(lent);
    }
  }
}

/** Buffers made as needed and reused: at most window + 1 are ever made. */
function reusedBuffers(size: number): RangeBuffers {
  const pool: Buffer[] = [];
  return { take: () => pool.pop() ?? Buffer.allocUnsafeSlow(size), give: (b) => void pool.push(b) };
}

async function fetchRange(
  ctx: ReadContext,
  ref: ObjectRef & { etag?: string },
  start: number,
  end: number,
  options: RangedReadOptions,
  into: Buffer,
): Promise<Buffer> {
  const { signal, requests } = options;
  await requests?.acquire(signal);
  try {
    return await withRetry(
      async () => {
        const request = { start, end, ...(ref.etag ? { ifMatch: ref.etag } : {}), ...(signal ? { signal } : {}) };
        const want = end - start + 1;
        const gone = () => new ObjectGoneError(`${formatS3Url(ref)} disappeared while it was being read`);
        const check = (at: number) => {
          if (at > want) throw new VerificationError(`${formatS3Url(ref)}: bytes ${start}-${end} came back longer than asked`);
          if (at !== want) throw new VerificationError(`${formatS3Url(ref)}: bytes ${start}-${end} came back with ${at} bytes`);
        };
        // Read straight into the range's buffer (over plain HTTP, by the kernel: socket-http.ts).
        const got = await ctx.store.getObjectInto(ref, into.subarray(0, want), request);
        if (!got) throw gone();
        check(got.length);
        return into.subarray(0, want);
      },
      ctx.retry,
      {
        what: `GetObject ${ref.key} bytes ${start}-${end}`,
        ...(signal ? { signal } : {}),
        onRetry: ({ error }) => ctx.log.warn(`reading ${ref.key} bytes ${start}-${end} failed (${describeError(error)}); resuming with that range again`),
      },
    );
  } finally {
    requests?.release();
  }
}
