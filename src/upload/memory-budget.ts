import { UsageError } from '../errors.js';
import { MiB } from '../util/size.js';

export const SLAB_SIZE = 1 * MiB;

interface Waiter {
  resolve: (slab: Buffer) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * The one memory budget shared by everything a process uploads.
 *
 * Memory is handed out as fixed-size slabs that are reused, never freed to the garbage
 * collector, so the process never holds more than `limit` bytes of upload data and RSS does not
 * creep. A reader that asks for a slab when none is free waits (FIFO): that wait is the
 * backpressure that stops reading the input, so the budget is never exceeded and never fails
 * with out-of-memory.
 */
export class MemoryBudget {
  readonly slabSize: number;
  readonly maxSlabs: number;
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private used = 0;
  private peakUsed = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly limit: number, slabSize: number = SLAB_SIZE) {
    if (!Number.isInteger(slabSize) || slabSize < 1) throw new UsageError(`slab size must be a positive integer`);
    this.slabSize = slabSize;
    this.maxSlabs = Math.floor(limit / slabSize);
    if (this.maxSlabs < 1) throw new UsageError(`memory budget ${limit} B is smaller than one ${slabSize} B slab`);
  }

  /** Bytes handed out now. */
  get inUse(): number {
    return this.used * this.slabSize;
  }

  /** Most bytes ever handed out at once. */
  get peak(): number {
    return this.peakUsed * this.slabSize;
  }

  /** Slabs the caller could get now without waiting. */
  get available(): number {
    return this.maxSlabs - this.used;
  }

  /** A slab of `slabSize` bytes (content undefined); waits while the budget is spent. */
  acquire(signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const slab = this.take();
    if (slab) return Promise.resolve(slab);
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Gives a slab back; the first waiter, if any, gets it. */
  release(slab: Buffer): void {
    if (slab.length !== this.slabSize) throw new Error('released a buffer that is not a slab of this budget');
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(slab);
      return;
    }
    this.used--;
    this.free.push(slab);
  }

  private take(): Buffer | undefined {
    if (this.used >= this.maxSlabs) return undefined;
    let slab = this.free.pop();
    if (!slab) {
      // Outside the V8 heap and never pooled by Node, so each slab is really ours to reuse.
      slab = Buffer.allocUnsafeSlow(this.slabSize);
      this.allocated++;
    }
    this.used++;
    if (this.used > this.peakUsed) this.peakUsed = this.used;
    return slab;
  }
}
