import { hashPart, type PartDigest } from '../checksum/part-digest.js';
import type { ByteReader } from './byte-reader.js';
import type { MemoryBudget, Reservation } from './memory-budget.js';

/**
 * One part being filled: slabs from the shared budget, filled in order. Once full, `digest()`
 * hashes it (MD5 for Content-MD5 and the composite ETag, CRC32C for the stream's checksum) in one
 * pass on a thread-pool thread, so parts hash in parallel while the next one fills.
 */
export class PartBuffer {
  private readonly slabs: Buffer[] = [];
  private filled = 0;
  private hashing: Promise<PartDigest> | undefined;
  private hashDone = false;
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
    if (this.hashing) throw new Error('part already sealed');
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
      this.filled += n;
      copied += n;
    }
    return copied;
  }

  /**
   * Reads from `reader` straight into the part's memory (no intermediate chunk), at most to the end
   * of the current slab (the reader reads on into what follows the bytes it returned, byte-reader.ts).
   * Returns the bytes read as a view (valid until release), or null at end of input. Returns an
   * empty view without reading when the part is `starved`.
   */
  async readFrom(reader: ByteReader, signal?: AbortSignal): Promise<Uint8Array | null> {
    if (this.hashing) throw new Error('part already sealed');
    const slabOffset = this.filled % this.budget.slabSize;
    if (slabOffset === 0 && this.filled / this.budget.slabSize >= this.slabs.length) {
      if (this.starved) return new Uint8Array(0);
      this.slabs.push(await this.budget.acquire(signal, this.holder));
    }
    const slab = this.slabs[this.slabs.length - 1]!;
    const want = Math.min(slab.length - slabOffset, this.capacity - this.filled);
    const n = await reader.readInto(slab.subarray(slabOffset, slabOffset + want), signal);
    if (n === 0) return null;
    const view = slab.subarray(slabOffset, slabOffset + n);
    this.filled += n;
    return view;
  }

  /**
   * MD5 and CRC32C of the part's bytes (computed once, off the main thread: the first call decides; `withMd5`
   * false leaves the MD5 out); the part accepts no more data afterwards.
   */
  digest(withMd5 = true): Promise<PartDigest> {
    if (!this.hashing) {
      this.hashing = hashPart(this.chunks(), withMd5);
      const done = () => {
        this.hashDone = true;
      };
      this.hashing.then(done, done);
    }
    return this.hashing;
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

  /**
   * Returns the slabs to the budget, once a hash in progress has finished reading them (another
   * part must not refill a slab under it). Safe to call twice.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    const give = () => {
      for (const slab of this.slabs) this.budget.release(slab, this.holder);
      this.slabs.length = 0;
    };
    if (this.hashing && !this.hashDone) void this.hashing.then(give, give);
    else give();
  }
}
