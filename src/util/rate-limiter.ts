import { UsageError } from '../errors.js';
import { parseSize } from './size.js';

/**
 * One byte-rate limit shared by every request of a process. Each request pays for its bytes before it is sent:
 * `take(n)` reserves the next n/rate seconds of the link and resolves when they have passed, so after any number of
 * requests the bytes sent never exceed rate × elapsed time (the average stays at or under the limit), whatever the
 * concurrency. Requests are granted in the order they ask.
 */
export class RateLimiter {
  private nextFree = 0;

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`rate must be positive, got ${bytesPerSecond}`);
  }

  /** Resolves once sending `bytes` more keeps the average rate within the limit; rejects when `signal` aborts. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const start = Math.max(this.now(), this.nextFree);
    this.nextFree = start + (bytes / this.bytesPerSecond) * 1000;
    const wait = this.nextFree - this.now();
    if (wait <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, wait);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** `50MiB/s`, `50MiB`, `800KiB/s`, `10MB/s` -> bytes per second. */
export function parseRate(text: string, what: string): number {
  const bare = text.trim().replace(/\/s$/i, '');
  let bytes: number;
  try {
    bytes = parseSize(bare, what);
  } catch {
    throw new UsageError(`${what}: cannot read "${text}" as a rate; write e.g. 50MiB/s, 800KiB/s or 10MB/s`);
  }
  if (bytes < 1024) throw new UsageError(`${what}: ${text} is below 1 KiB/s; write e.g. 50MiB/s`);
  return bytes;
}
