import { describe, expect, it } from 'vitest';
import { RateLimiter, parseRate } from '../../../src/util/rate-limiter.js';

describe('the shared byte-rate limit', () => {
  it('never grants more than rate × elapsed time, however many requests ask at once', async () => {
    const limiter = new RateLimiter(1_000_000); // 1 MB/s
    const started = performance.now();
    const granted: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, () => limiter.take(50_000).then(() => granted.push(performance.now() - started))),
    );
    // 5 × 50 kB at 1 MB/s: the last grant comes no sooner than 250 ms after the start; each one 50 ms after the last.
    granted.sort((a, b) => a - b);
    granted.forEach((t, i) => expect(t).toBeGreaterThanOrEqual((i + 1) * 50 - 2));
  });

  it('lets a waiting request go when its signal aborts, with the signal\'s reason', async () => {
    const limiter = new RateLimiter(1000);
    const ac = new AbortController();
    const waiting = limiter.take(1_000_000, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
  });

  it('reads rates as users write them and names the form on bad input', () => {
    expect(parseRate('50MiB/s', '--bwlimit')).toBe(50 * 1024 * 1024);
    expect(parseRate('10MB/s', '--bwlimit')).toBe(10_000_000);
    expect(parseRate('800KiB', '--bwlimit')).toBe(800 * 1024);
    expect(() => parseRate('fast', '--bwlimit')).toThrow(/write e\.g\. 50MiB\/s/);
    expect(() => parseRate('10/s', '--bwlimit')).toThrow(/below 1 KiB\/s/);
  });
});
