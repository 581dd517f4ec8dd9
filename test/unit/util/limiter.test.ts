import { describe, expect, it, vi } from 'vitest';
import { Limiter } from '../../../src/util/limiter.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Limiter', () => {
  it('runs at most `limit` holders at once and grants waiters in the order they came', async () => {
    const l = new Limiter(2);
    const order: number[] = [];
    await l.acquire();
    await l.acquire();
    const waits = [1, 2, 3].map((i) => l.acquire().then(() => order.push(i)));
    await tick();
    expect(order).toEqual([]);
    l.release();
    await tick();
    expect(order).toEqual([1]);
    l.release();
    l.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(l.running).toBe(2);
  });

  it('rejects the waits of an aborted signal with its reason, takes them out of the queue, and leaves other signals\' waits queued', async () => {
    const l = new Limiter(1);
    await l.acquire();
    const a = new AbortController();
    const b = new AbortController();
    const results: string[] = [];
    const waits = [
      l.acquire(a.signal).then(() => results.push('a1'), (e: unknown) => results.push(`a1 ${String(e)}`)),
      l.acquire(b.signal).then(() => results.push('b1')),
      l.acquire(a.signal).then(() => results.push('a2'), (e: unknown) => results.push(`a2 ${String(e)}`)),
    ];
    a.abort('stop');
    await tick();
    expect(results).toEqual(['a1 stop', 'a2 stop']);
    l.release();
    await Promise.all(waits);
    expect(results).toEqual(['a1 stop', 'a2 stop', 'b1']);
    l.release();
    expect(l.running).toBe(0);
  });

  it('throws at once for a signal already aborted', async () => {
    const l = new Limiter(1);
    await expect(l.acquire(AbortSignal.abort('gone'))).rejects.toBe('gone');
    expect(l.running).toBe(0);
  });

  it('adds one abort listener to a signal however many waiters it has (a listener each made queueing quadratic)', async () => {
    const l = new Limiter(4);
    const ac = new AbortController();
    const add = vi.spyOn(ac.signal, 'addEventListener');
    await Promise.all(Array.from({ length: 10_000 }, async () => {
      await l.acquire(ac.signal);
      await null;
      l.release();
    }));
    expect(add).toHaveBeenCalledTimes(1);
    expect(l.running).toBe(0);
    // The signal is still watched: an abort now rejects a new wait, and nothing granted earlier.
    await l.acquire(); await l.acquire(); await l.acquire(); await l.acquire();
    const late = l.acquire(ac.signal);
    ac.abort('late');
    await expect(late).rejects.toBe('late');
    expect(add).toHaveBeenCalledTimes(1);
  });
});
