// A read's buffers (ReadAhead) and readRanged with caller buffers: read-ahead only from slabs the
// memory budget can spare, every slab given back however the read ends.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReadAhead } from '../../../src/download/read-ahead.js';
import { MemoryBudget } from '../../../src/upload/memory-budget.js';
import { MiB } from '../../../src/util/size.js';
import { readRanged } from '../../../src/verify/ranged-reader.js';
import { FakeS3Error, MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';

async function stored(size: number) {
  const store = new MemoryObjectStore();
  const data = await collect(pseudoRandom(size));
  const { etag } = await store.putObject({ bucket: 'bkt', key: 'k', body: [data], contentLength: data.length, contentMd5: createHash('md5').update(data).digest('base64'), settings: {} });
  const ctx = testContext(store);
  return { store, data, ref: { bucket: 'bkt', key: 'k', size: data.length, etag }, read: { store, retry: ctx.retry, log: ctx.log } };
}

describe('ReadAhead', () => {
  it('gives its own buffer first, then borrows slabs the budget can spare, up to its most, and gives them back', () => {
    const budget = new MemoryBudget(4 * MiB);
    const ahead = new ReadAhead(budget, 10 * MiB, 3);
    const own = ahead.take()!;
    expect(own.length).toBe(MiB);
    const a = ahead.take()!;
    const b = ahead.take()!;
    expect(ahead.take()).toBeUndefined(); // its most: 3 buffers out
    expect(budget.inUse).toBe(2 * MiB);
    ahead.give(a);
    ahead.give(own);
    expect(ahead.take()).toBe(own);
    ahead.give(b);
    ahead.give(own);
    expect(budget.inUse).toBe(0);
    expect(ahead.borrowedSlabs).toBe(0);
  });

  it('borrows nothing the budget promised to an admitted upload: the read then has its own buffer only', async () => {
    const budget = new MemoryBudget(2 * MiB);
    const upload = await budget.admit(2);
    const ahead = new ReadAhead(budget, 10 * MiB, 8);
    expect(ahead.take()).toBeDefined();
    expect(ahead.take()).toBeUndefined();
    expect(budget.inUse).toBe(0);
    upload.close();
    expect(ahead.take()).toBeDefined();
  });

  it('borrows nothing while an upload waits for admission, even with a slab free', async () => {
    const budget = new MemoryBudget(6 * MiB);
    const first = await budget.admit(5);
    const waiting = budget.admit(5); // 1 slab free, 5 wanted: it waits
    const ahead = new ReadAhead(budget, 10 * MiB, 8);
    expect(ahead.take()).toBeDefined(); // its own
    expect(ahead.take()).toBeUndefined();
    first.close();
    (await waiting).close();
    expect(ahead.take()).toBeDefined();
  });

  it('makes a small file\'s own buffer no larger than the file', () => {
    const ahead = new ReadAhead(new MemoryBudget(4 * MiB), 1000, 8);
    expect(ahead.take()!.length).toBe(1000);
  });
});

describe('readRanged with caller buffers', () => {
  it('reads an object whole, in order, with no more slabs out than the budget holds, and gives every one back', async () => {
    const { store, data, ref, read } = await stored(11 * MiB + 5);
    store.delayMs.get = 5; // ranges overlap
    const budget = new MemoryBudget(3 * MiB);
    const buffers = new ReadAhead(budget, ref.size, 8);
    const out: Buffer[] = [];
    for await (const c of readRanged(read, ref, { chunkSize: MiB, window: 8, buffers })) out.push(Buffer.from(c));
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(budget.peak).toBe(3 * MiB); // it did read ahead, within the budget
    expect(budget.inUse).toBe(0);
  });

  it('gives every buffer back, after the GETs still in flight stopped, when the reader stops early', async () => {
    const { store, ref, read } = await stored(8 * MiB);
    store.delayMs.get = 20;
    const budget = new MemoryBudget(8 * MiB);
    const buffers = new ReadAhead(budget, ref.size, 8);
    for await (const c of readRanged(read, ref, { chunkSize: MiB, window: 8, buffers })) {
      expect(c.length).toBe(MiB);
      break;
    }
    expect(budget.inUse).toBe(0);
    expect(buffers.borrowedSlabs).toBe(0);
  });

  it('gives every buffer back when a GET fails, and fails the read', async () => {
    const { store, ref, read } = await stored(8 * MiB);
    store.delayMs.get = 5;
    store.failWhen('get', (n) => n === 3, new FakeS3Error('AccessDenied', 403));
    const budget = new MemoryBudget(8 * MiB);
    const buffers = new ReadAhead(budget, ref.size, 8);
    let got = 0;
    await expect(
      (async () => {
        for await (const c of readRanged(read, ref, { chunkSize: MiB, window: 8, buffers })) got += c.length;
      })(),
    ).rejects.toThrow(/AccessDenied|Access/);
    expect(got).toBe(2 * MiB);
    expect(budget.inUse).toBe(0);
  });
});

describe('readRanged with its own buffers', () => {
  it('reads an object whole and in order into at most window + 1 buffers of one range, however many ranges it has', async () => {
    const { store, data, ref, read } = await stored(20 * MiB + 7);
    store.delayMs.get = 2; // ranges finish out of order and overlap the consumer
    const seen = new Set<ArrayBufferLike>();
    const hash = createHash('sha256');
    let ranges = 0;
    for await (const c of readRanged(read, ref, { chunkSize: MiB, window: 4 })) {
      seen.add(c.buffer);
      expect(c.buffer.byteLength).toBe(MiB);
      hash.update(c);
      ranges++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(ranges).toBe(21);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(seen.size).toBeGreaterThan(1);
    expect(seen.size).toBeLessThanOrEqual(5);
  });

  it('makes a small object\'s buffer no larger than the object', async () => {
    const { ref, read } = await stored(1000);
    const sizes: number[][] = [];
    for await (const c of readRanged(read, ref, { chunkSize: MiB })) sizes.push([c.length, c.buffer.byteLength]);
    expect(sizes).toEqual([[1000, 1000]]);
  });
});
