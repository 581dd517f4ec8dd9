import { createHash, type Hash } from 'node:crypto';
import { read } from 'node:fs';
import type { MemoryBudget, Reservation } from './memory-budget.js';

/**
 * One part being filled: slabs from the shared budget, filled in order, with the part's MD5
 * computed as bytes arrive (for Content-MD5 and the composite ETag), so the data is hashed once.
 */
export class PartBuffer {
  private readonly slabs: Buffer[] = [];
  private filled = 0;
  private readonly md5: Hash = createHash('md5');
  private digest: Buffer | undefined;
  private released = false;

  constructor(
    private readonly budget: MemoryBudget,
    /** Planned size: the part is full at this many bytes. */
    readonly capacity: number,
    /**
     * Once the part holds this many bytes, `fill` returns instead of waiting when no slab is free,
     * so the caller can send the part early (Infinity: always wait).
     */
    private readonly stopWhenStarvedAt = Number.POSITIVE_INFINITY,
    /** The stream's admission (memory-budget.ts): its guarantee is always available to this part. */
    private readonly holder?: Reservation,
  ) {}

  /** Whether the part could be sent now to free memory: it needs a slab, none is free, and it is big enough. */
  get starved(): boolean {
    return this.filled >= this.stopWhenStarvedAt && this.filled % this.budget.slabSize === 0 && this.budget.availableTo(this.holder) === 0;
  }

  get length(): number {
    return this.filled;
  }

  get isFull(): boolean {
    return this.filled >= this.capacity;
  }

  /**
   * Copies bytes from `chunk[offset..]` until the chunk or the part ends; returns how many.
   * Waits for memory when the budget is spent (backpressure), unless the part is `starved`.
   */
  async fill(chunk: Uint8Array, offset: number, signal?: AbortSignal): Promise<number> {
    if (this.digest) throw new Error('part already sealed');
    let copied = 0;
    while (offset + copied < chunk.length && this.filled < this.capacity) {
      const slabOffset = this.filled % this.budget.slabSize;
      if (slabOffset === 0 && this.filled / this.budget.slabSize >= this.slabs.length) {
        if (this.starved) return copied;
        this.slabs.push(await this.budget.acquire(signal, this.holder));
      }
      const slab = this.slabs[this.slabs.length - 1]!;
      const n = Math.min(chunk.length - offset - copied, this.capacity - this.filled, slab.length - slabOffset);
      const src = chunk.subarray(offset + copied, offset + copied + n);
      slab.set(src, slabOffset);
      this.md5.update(src);
      this.filled += n;
      copied += n;
    }
    return copied;
  }

  /**
   * Reads from `fd` straight into the part's memory (no intermediate chunk), at most to the end of
   * the current slab. Returns the bytes read as a view (valid until release), or null at end of
   * input. Returns an empty view without reading when the part is `starved`.
   */
  async readFrom(fd: number, signal?: AbortSignal): Promise<Uint8Array | null> {
    if (this.digest) throw new Error('part already sealed');
    const slabOffset = this.filled % this.budget.slabSize;
    if (slabOffset === 0 && this.filled / this.budget.slabSize >= this.slabs.length) {
      if (this.starved) return new Uint8Array(0);
      this.slabs.push(await this.budget.acquire(signal, this.holder));
    }
    const slab = this.slabs[this.slabs.length - 1]!;
    const want = Math.min(slab.length - slabOffset, this.capacity - this.filled);
    const n = await new Promise<number>((resolve, reject) =>
      read(fd, slab, slabOffset, want, null, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    if (n === 0) return null;
    const view = slab.subarray(slabOffset, slabOffset + n);
    this.md5.update(view);
    this.filled += n;
    return view;
  }

  /** MD5 of the part's bytes; the part accepts no more data afterwards. */
  seal(): Buffer {
    this.digest ??= this.md5.digest();
    return this.digest;
  }

  /** The part's bytes as views on the slabs, in order (valid until release). */
  chunks(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = this.filled;
    for (const slab of this.slabs) {
      if (left <= 0) break;
      const n = Math.min(left, slab.length);
      out.push(slab.subarray(0, n));
      left -= n;
    }
    return out;
  }

  /** Returns the slabs to the budget. Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const slab of this.slabs) this.budget.release(slab, this.holder);
    this.slabs.length = 0;
  }
}
