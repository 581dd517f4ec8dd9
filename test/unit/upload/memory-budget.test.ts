import { describe, expect, it } from 'vitest';
import { MemoryBudget } from '../../../src/upload/memory-budget.js';

describe('MemoryBudget', () => {
  it('hands out slabs until the budget is spent, then makes the next caller wait', async () => {
    const budget = new MemoryBudget(3 * 1024, 1024);
    const slabs = await Promise.all([budget.acquire(), budget.acquire(), budget.acquire()]);
    let fourth = false;
    const waiting = budget.acquire().then((s) => {
      fourth = true;
      return s;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(fourth).toBe(false);
    expect(budget.inUse).toBe(3 * 1024);
    budget.release(slabs[0]!);
    expect(await waiting).toBe(slabs[0]);
    expect(budget.peak).toBe(3 * 1024);
  });

  it('reuses released slabs instead of allocating new memory', async () => {
    const budget = new MemoryBudget(2 * 1024, 1024);
    const a = await budget.acquire();
    budget.release(a);
    expect(await budget.acquire()).toBe(a);
  });

  it('serves waiters in the order they asked', async () => {
    const budget = new MemoryBudget(1024, 1024);
    const first = await budget.acquire();
    const order: number[] = [];
    const w1 = budget.acquire().then((s) => (order.push(1), s));
    const w2 = budget.acquire().then((s) => (order.push(2), s));
    budget.release(first);
    budget.release(await w1);
    await w2;
    expect(order).toEqual([1, 2]);
  });

  it('stops waiting when the signal aborts, and leaves the budget intact', async () => {
    const budget = new MemoryBudget(1024, 1024);
    const held = await budget.acquire();
    const controller = new AbortController();
    const waiting = budget.acquire(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    budget.release(held);
    expect(budget.inUse).toBe(0);
    expect(budget.available).toBe(1);
  });

  it('refuses a buffer that is not one of its slabs', () => {
    expect(() => new MemoryBudget(2048, 1024).release(Buffer.alloc(10))).toThrow(/not a slab/);
  });

  it('admits a stream only when a minimum part can be set aside for it, and gives an admitted stream its guarantee at once', async () => {
    const budget = new MemoryBudget(5 * 1024, 1024);
    const a = await budget.admit(2);
    const b = await budget.admit(2);
    let third: unknown;
    const waiting = budget.admit(2).then((r) => (third = r));
    // One shared slab is left, but it is not enough for a third stream's minimum part.
    await new Promise((r) => setTimeout(r, 10));
    expect(third).toBeUndefined();
    const shared = await Promise.race([budget.acquire(undefined, a), new Promise((r) => setTimeout(() => r('waits'), 10))]);
    expect(shared).toBeInstanceOf(Buffer);
    const own = [await budget.acquire(undefined, b), await budget.acquire(undefined, b)];
    // b's guarantee came at once; growing beyond it waits while a stream waits for admission.
    expect(budget.availableTo(b)).toBe(0);
    for (const slab of own) budget.release(slab, b);
    b.close();
    await waiting;
    expect(third).toBeDefined();
  });

  it('makes a stream at its cap wait for one of its own slabs, even while the budget has free slabs for others', async () => {
    const budget = new MemoryBudget(8 * 1024, 1024);
    const r = await budget.admit(1, undefined, 3);
    const held = [await budget.acquire(undefined, r), await budget.acquire(undefined, r), await budget.acquire(undefined, r)];
    let fourth: Buffer | undefined;
    const waiting = budget.acquire(undefined, r).then((s) => (fourth = s));
    await new Promise((res) => setTimeout(res, 10));
    expect(fourth).toBeUndefined();
    // The rest of the budget is still there for everyone else.
    expect(budget.available).toBe(5);
    budget.release(held[0]!, r);
    expect(await waiting).toBe(held[0]);
    expect(budget.peak).toBe(3 * 1024);
  });

  it('fails a stream waiting for admission when no memory comes back for the stall time, naming --memory and the files', async () => {
    const budget = new MemoryBudget(4 * 1024, 1024, 50);
    const a = await budget.admit(2);
    const b = await budget.admit(2);
    await expect(budget.admit(2)).rejects.toThrow(/3 files are being written at once, but --memory 4\.00 KiB holds the minimum part .* of only 2 .*raise --memory/);
    a.close();
    b.close();
    expect(await budget.admit(2)).toBeDefined();
  });
  it('sets aside one slab of a stream admitted to start small, once a minimum part fits, and grows it ahead of streams waiting for admission', async () => {
    const budget = new MemoryBudget(6 * 1024, 1024);
    // Minimum part 3 slabs, one set aside: each admission needs 3 free slabs but takes 1.
    const [a, b, c, d] = [await budget.admit(3, undefined, 10, 1), await budget.admit(3, undefined, 10, 1), await budget.admit(3, undefined, 10, 1), await budget.admit(3, undefined, 10, 1)];
    expect(budget.available).toBe(2);
    let fifth: unknown;
    const admitting = budget.admit(3, undefined, 10, 1).then((r) => (fifth = r));
    // a grows at once from the 2 free slabs, ahead of the admission that waits.
    await a!.grow();
    expect(a!.guarantee).toBe(3);
    expect(budget.availableTo(a)).toBe(3);
    let bGrown = false;
    const growing = b!.grow().then(() => (bGrown = true));
    await new Promise((r) => setTimeout(r, 10));
    expect([bGrown, fifth]).toEqual([false, undefined]);
    // a ends: its 3 slabs go to b's growth first (2), and the 1 left does not admit the fifth stream.
    a!.close();
    await growing;
    expect(b!.guarantee).toBe(3);
    await new Promise((r) => setTimeout(r, 10));
    expect(fifth).toBeUndefined();
    c!.close();
    d!.close();
    await admitting;
    expect(fifth).toBeDefined();
  });
});
