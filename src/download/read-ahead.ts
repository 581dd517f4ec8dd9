import type { MemoryBudget } from '../upload/memory-budget.js';
import type { RangeBuffers } from '../verify/ranged-reader.js';

/**
 * The buffers of one program's read of one file (run --from, read-backs): one buffer of its own,
 * so the read always goes on however the budget is used, and up to `most - 1` slabs borrowed from
 * the run's memory budget while it has slabs to spare (`MemoryBudget.tryAcquire`: never one that
 * an upload was promised, never while an upload waits for admission). That is the read-ahead: a
 * program reading fast gets up to `most` ranges in flight, and under memory pressure each read
 * falls back to one range at a time, never waiting for memory. Ranges are `budget.slabSize` bytes.
 */
export class ReadAhead implements RangeBuffers {
  private own: Buffer | undefined;
  private ownOut = false;
  private borrowed = 0;

  /** `ownSize`: the largest range this read asks for (a small file needs no whole slab of its own). */
  constructor(
    private readonly budget: MemoryBudget,
    private readonly ownSize: number,
    private readonly most: number,
  ) {}

  /** Bytes per range: a slab of the budget. */
  get rangeSize(): number {
    return this.budget.slabSize;
  }

  /** Slabs of the budget this read holds now. */
  get borrowedSlabs(): number {
    return this.borrowed;
  }

  take(): Buffer | undefined {
    if (!this.ownOut) {
      this.ownOut = true;
      this.own ??= Buffer.allocUnsafeSlow(Math.min(this.ownSize, this.budget.slabSize));
      return this.own;
    }
    if (this.borrowed + 1 >= this.most) return undefined;
    const slab = this.budget.tryAcquire();
    if (slab) this.borrowed++;
    return slab;
  }

  give(buffer: Buffer): void {
    if (buffer === this.own) {
      this.ownOut = false;
      return;
    }
    this.borrowed--;
    this.budget.release(buffer);
  }
}
