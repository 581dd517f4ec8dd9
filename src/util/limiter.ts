interface Waiter {
  grant(): void;
  fail(reason: unknown): void;
  signal: AbortSignal | undefined;
}

/**
 * A counting semaphore with FIFO waiters and abortable waits.
 *
 * A signal gets one abort listener per limiter, however many waiters it has: restore and verify
 * queue every file of a backup at once, and a listener each made each wait, and every request
 * that listens to the same signal meanwhile, walk a list as long as the queue (Node's EventTarget
 * checks each new listener against the others): 2,000 waiters cost 32 ms, 20,000 1.7 s, 100,000
 * 49 s (bench/limiter-queue.mjs; limiter.test.ts "adds one abort listener to a signal however many
 * waiters it has").
 */
export class Limiter {
  private active = 0;
  /** FIFO: waiters[head] is next (an index, not Array.shift, which moves every element of a long queue). */
  private waiters: Array<Waiter | undefined> = [];
  private head = 0;
  /** The waiters of each signal that has (or had) waiters here; each signal's listener is added once. */
  private readonly bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  get running(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, fail: reject, signal };
      this.waiters.push(waiter);
      if (signal) this.watch(signal).add(waiter);
    });
  }

  /** Hands the slot to the next waiter, or frees it. */
  release(): void {
    const next = this.waiters[this.head];
    if (!next) {
      this.active--;
      return;
    }
    this.waiters[this.head++] = undefined;
    if (this.head === this.waiters.length) {
      this.waiters = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiters.length) {
      this.waiters = this.waiters.slice(this.head);
      this.head = 0;
    }
    if (next.signal) this.bySignal.get(next.signal)?.delete(next);
    next.grant();
  }

  private watch(signal: AbortSignal): Set<Waiter> {
    let waiting = this.bySignal.get(signal);
    if (!waiting) {
      const mine = new Set<Waiter>();
      waiting = mine;
      this.bySignal.set(signal, mine);
      signal.addEventListener(
        'abort',
        () => {
          if (mine.size === 0) return;
          this.waiters = this.waiters.slice(this.head).filter((w) => w !== undefined && !mine.has(w));
          this.head = 0;
          const failed = [...mine];
          mine.clear();
          for (const w of failed) w.fail(signal.reason);
        },
        { once: true },
      );
    }
    return waiting;
  }
}
