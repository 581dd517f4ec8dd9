import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cToHex } from '../../../src/checksum/crc32c.js';
import { ProducerError, VerificationError } from '../../../src/errors.js';
import { chainIndexKey, continuationKey, parseChainIndex } from '../../../src/upload/chain.js';
import { MemoryBudget } from '../../../src/upload/memory-budget.js';
import { compositeCrc32c } from '../../../src/upload/part-checksum.js';
import { planParts, streamMemoryCap } from '../../../src/upload/part-planner.js';
import { uploadStream } from '../../../src/upload/stream-uploader.js';
import { MiB } from '../../../src/util/size.js';
import { rawPipe } from '../../../src/native/process-control.js';
import { FakeS3Error, MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';

const target = { bucket: 'b', key: 'backups/db.sql' };

describe('uploadStream', () => {
  it('stores an empty stream as an empty object', async () => {
    const store = new MemoryObjectStore();
    const result = await uploadStream(testContext(store), pseudoRandom(0), { target, plan: planParts() });
    expect(store.data('b', target.key)).toEqual(Buffer.alloc(0));
    expect(result.size).toBe(0);
    expect(result.etag).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(store.calls.create).toBe(0);
  });

  it('stores a stream smaller than one part with a single PutObject', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(3 * MiB));
    const result = await uploadStream(testContext(store), pseudoRandom(3 * MiB), { target, plan: planParts() });
    expect(store.data('b', target.key)?.equals(data)).toBe(true);
    expect(result.parts).toBe(1);
    expect(result.crc32c).toBe(crc32cToHex(crc32c(data)));
  });

  it('gives a small stream\'s unused memory guarantee back once its input ended, so the next stream is admitted while the first is still being stored', async () => {
    const store = new MemoryObjectStore();
    let letFirst!: () => void;
    const firstHeld = new Promise<void>((r) => (letFirst = r));
    const put = store.putObject.bind(store);
    store.putObject = async (req, opts) => (req.key === 'first' && (await firstHeld), put(req, opts));
    // 7 slabs: the first stream (1.5 MiB) holds 2 and, having passed its first slab, was guaranteed 5; until it gives
    // the 3 unused back, a second cannot be admitted (admission needs room for a minimum part: 5 slabs).
    const ctx = testContext(store, { budget: new MemoryBudget(7 * MiB) });
    const first = uploadStream(ctx, pseudoRandom(1.5 * MiB), { target: { bucket: 'b', key: 'first' }, plan: planParts() });
    await new Promise((r) => setTimeout(r, 50));
    await uploadStream(ctx, pseudoRandom(100_000, 64 * 1024, 2), { target: { bucket: 'b', key: 'second' }, plan: planParts() });
    expect(store.keys('b')).toEqual(['second']);
    letFirst();
    await first;
    expect(store.keys('b').sort()).toEqual(['first', 'second']);
  });

  it('stores a stream of exactly one part with a single PutObject', async () => {
    const store = new MemoryObjectStore();
    await uploadStream(testContext(store), pseudoRandom(8 * MiB), { target, plan: planParts() });
    expect(store.calls.create).toBe(0);
    expect(store.data('b', target.key)).toHaveLength(8 * MiB);
  });

  it('stores 5 MiB + 1 byte as a 5 MiB part and a 1-byte part with the composite ETag', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(5 * MiB + 1));
    const result = await uploadStream(testContext(store), pseudoRandom(5 * MiB + 1), {
      target,
      plan: planParts({ partSize: 5 * MiB }),
      sha256: true,
    });
    expect(store.data('b', target.key)?.equals(data)).toBe(true);
    expect(result.parts).toBe(2);
    expect(result.etag).toMatch(/^[0-9a-f]{32}-2$/);
    expect(result.etag).toBe(store.objects.get(`b/${target.key}`)?.etag);
    expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(store.uploads.size).toBe(0);
  });

  it('sends each part with its CRC32C and no Content-MD5 where the store took CRC32C part checksums, and checks the composite CRC32C', async () => {
    const store = new MemoryObjectStore();
    store.crc32cParts = true;
    const data = await collect(pseudoRandom(12 * MiB));
    const result = await uploadStream(testContext(store, { crc32cParts: true }), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) });
    expect(store.data('b', target.key)?.equals(data)).toBe(true);
    expect(store.partChecks).toEqual(['crc32c', 'crc32c', 'crc32c']);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB, 10 * MiB), data.subarray(10 * MiB)];
    expect(store.objects.get(`b/${target.key}`)?.crc32c).toBe(compositeCrc32c(parts.map((p) => crc32c(p))));
    expect(result.etag).toBe(store.objects.get(`b/${target.key}`)?.etag);
    expect(result.crc32c).toBe(crc32cToHex(crc32c(data)));
  });

  it('sends Content-MD5 where the store began the upload without CRC32C part checksums, though they were asked for', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(12 * MiB));
    const result = await uploadStream(testContext(store, { crc32cParts: true }), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) });
    expect(store.data('b', target.key)?.equals(data)).toBe(true);
    expect(store.partChecks).toEqual(['md5', 'md5', 'md5']);
    expect(result.etag).toMatch(/^[0-9a-f]{32}-3$/);
  });

  it('aborts and commits nothing when the store answers a part with another CRC32C than the part has', async () => {
    const store = new MemoryObjectStore();
    store.crc32cParts = true;
    store.partCrc32cDelta = 1;
    const err = await uploadStream(testContext(store, { crc32cParts: true }), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) }).catch((e) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(String(err)).toMatch(/the store answered CRC32C .*, but the part's is/);
    expect(store.keys('b')).toEqual([]);
    expect(store.uploads.size).toBe(0);
  });

  it('deletes the object and fails when the store gives no CRC32C of an object it took CRC32C part checksums for', async () => {
    const store = new MemoryObjectStore();
    store.crc32cParts = true;
    store.headCrc32cLost = true;
    const err = await uploadStream(testContext(store, { crc32cParts: true }), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) }).catch((e) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(String(err)).toMatch(/gave no CRC32C of the object/);
    expect(store.keys('b')).toEqual([]);
  });

  it('uploads several parts at once but never more than the request limit', async () => {
    const store = new MemoryObjectStore();
    store.partDelayMs = 20;
    await uploadStream(testContext(store), pseudoRandom(60 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) });
    expect(store.maxConcurrentParts).toBeGreaterThan(1);
    expect(store.maxConcurrentParts).toBeLessThanOrEqual(4);
  });

  it('never holds more memory than the budget, however fast the input', async () => {
    const store = new MemoryObjectStore();
    store.partDelayMs = 10;
    const budget = new MemoryBudget(12 * MiB);
    await uploadStream(testContext(store, { budget }), pseudoRandom(40 * MiB, 1024 * 1024), {
      target,
      plan: planParts({ partSize: 5 * MiB, memoryBudget: 12 * MiB }),
    });
    expect(budget.peak).toBeLessThanOrEqual(12 * MiB);
    expect(budget.inUse).toBe(0);
    expect(store.data('b', target.key)).toHaveLength(40 * MiB);
  });

  it('holds no more memory for a long stream whose parts grew than for its first parts, and keeps the planned part sizes', async () => {
    const store = new MemoryObjectStore();
    store.partDelayMs = 20;
    const budget = new MemoryBudget(64 * MiB);
    // 20 parts per object: parts double every 2 parts, 8 → 16 → 32 MiB (half the budget).
    const plan = planParts({ maxParts: 20, memoryBudget: 64 * MiB });
    const result = await uploadStream(testContext(store, { budget }), pseudoRandom(208 * MiB, 1024 * 1024), { target, plan });
    expect(result.objects[0]!.partSizes).toEqual([8 * MiB, 16 * MiB, 32 * MiB]);
    // (4 request slots + 1 filling) × the first part's 8 MiB, not the 64 MiB budget.
    expect(streamMemoryCap(plan, 4)).toBe(40 * MiB);
    expect(budget.peak).toBeLessThanOrEqual(40 * MiB);
    expect(store.data('b', target.key)).toHaveLength(208 * MiB);
  });

  it('sends a part early when streams sharing the budget have taken every slab, instead of stalling', async () => {
    const store = new MemoryObjectStore();
    // 16 MiB shared by three streams writing in turns, each with 8 MiB parts: without early parts,
    // all slabs end up in parts that are still filling and nothing is ever sent.
    const ctx = testContext(store, { budget: new MemoryBudget(16 * MiB) });
    const plan = planParts({ memoryBudget: 16 * MiB });
    let arrived = 0;
    let allArrived!: () => void;
    const gate = new Promise<void>((r) => (allArrived = r));
    async function* interleaved(i: number) {
      for (let round = 0; round < 24; round++) {
        if (round === 1) {
          // Every stream holds a started part before any goes on.
          if (++arrived === 3) allArrived();
          await gate;
        }
        yield* pseudoRandom(1 * MiB, 1 * MiB, i * 100 + round);
      }
    }
    const keys = ['a', 'b', 'c'];
    const results = await Promise.all(keys.map((key, i) => uploadStream(ctx, interleaved(i), { target: { bucket: 'b', key }, plan })));
    expect(results.map((r) => r.size)).toEqual([24 * MiB, 24 * MiB, 24 * MiB]);
    expect(ctx.budget.peak).toBeLessThanOrEqual(16 * MiB);
    expect(results.some((r) => r.objects[0]!.partSizes[0]! < 8 * MiB)).toBe(true);
  }, 20_000);

  it('stores every stream when more are open than the budget can hold a minimum part for (no stream holds a small part forever)', async () => {
    const store = new MemoryObjectStore();
    // 20 streams of 3 MiB sharing 16 MiB: without admission each takes a slab or two, none reaches 5 MiB, and nothing is sent.
    const ctx = testContext(store, { budget: new MemoryBudget(16 * MiB) });
    const plan = planParts({ memoryBudget: 16 * MiB });
    const keys = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const results = await Promise.all(keys.map((key, i) => uploadStream(ctx, pseudoRandom(3 * MiB, 256 * 1024, i), { target: { bucket: 'b', key }, plan })));
    expect(results.map((r) => r.size)).toEqual(keys.map(() => 3 * MiB));
    expect(ctx.budget.peak).toBeLessThanOrEqual(16 * MiB);
    expect(ctx.budget.inUse).toBe(0);
  }, 20_000);

  it('admits far more small files held open at once than the budget holds minimum parts for: each sets aside one slab until it passes it', async () => {
    const store = new MemoryObjectStore();
    // 16 MiB holds 3 minimum parts (5 MiB). 10 small files stay open (their last bytes wait) until all 10 have begun,
    // as a dump's metadata and schema files do, while a 12 MiB file streams beside them. Had each file set aside a
    // minimum part, only 3 could begin and the admission would fail after its stall time (1 s here).
    const ctx = testContext(store, { budget: new MemoryBudget(16 * MiB, MiB, 1_000) });
    const plan = planParts({ memoryBudget: 16 * MiB });
    let begun = 0;
    let allBegun!: () => void;
    const gate = new Promise<void>((r) => (allBegun = r));
    async function* heldOpen(i: number) {
      yield Buffer.from(`-- file ${i}\n`);
      if (++begun === 10) allBegun();
      await gate;
      yield Buffer.from('-- end\n');
    }
    const small = Array.from({ length: 10 }, (_, i) => uploadStream(ctx, heldOpen(i), { target: { bucket: 'b', key: `small-${i}` }, plan }));
    const big = uploadStream(ctx, pseudoRandom(12 * MiB, 256 * 1024, 7), { target: { bucket: 'b', key: 'big' }, plan });
    const results = await Promise.all([...small, big]);
    expect(results.map((r) => r.size)).toEqual([...Array.from({ length: 10 }, (_, i) => `-- file ${i}\n-- end\n`.length), 12 * MiB]);
    expect(store.data('b', 'small-3')?.toString()).toBe('-- file 3\n-- end\n');
    expect(store.data('b', 'big')?.equals(await collect(pseudoRandom(12 * MiB, 256 * 1024, 7)))).toBe(true);
    expect(ctx.budget.peak).toBeLessThanOrEqual(16 * MiB);
    expect(ctx.budget.inUse).toBe(0);
  }, 20_000);

  it('reads a file descriptor straight into its buffers and stores the same bytes', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(13 * MiB + 5));
    const dir = mkdtempSync(join(tmpdir(), 'fd-'));
    writeFileSync(join(dir, 'in'), data);
    const fd = openSync(join(dir, 'in'), 'r');
    try {
      const result = await uploadStream(testContext(store), { fd }, { target, plan: planParts({ partSize: 5 * MiB }) });
      expect(store.data('b', target.key)?.equals(data)).toBe(true);
      expect(result.crc32c).toBe(crc32cToHex(crc32c(data)));
    } finally {
      closeSync(fd);
    }
  });

  it('sends no empty last part, nor an empty continuation object, when a descriptor ends right after a full part', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fd-'));
    for (const [size, maxParts, objects] of [[10 * MiB, 10_000, 1], [10 * MiB, 2, 1], [15 * MiB, 2, 2]] as const) {
      const store = new MemoryObjectStore();
      const data = await collect(pseudoRandom(size));
      writeFileSync(join(dir, 'in'), data);
      const fd = openSync(join(dir, 'in'), 'r');
      try {
        const result = await uploadStream(testContext(store), { fd }, { target, plan: planParts({ partSize: 5 * MiB, maxParts }) });
        expect(result.parts).toBe(size / (5 * MiB));
        expect(result.objects).toHaveLength(objects);
        expect(result.objects.map((o) => o.partSizes)).toEqual(Array(objects).fill([5 * MiB])); // distinct sizes: no 0
        expect(result.objects.reduce((n, o) => n + o.parts, 0)).toBe(size / (5 * MiB));
        expect(store.data('b', target.key)?.equals(data.subarray(0, 10 * MiB))).toBe(true);
      } finally {
        closeSync(fd);
      }
    }
  });

  it('reads a pipe descriptor until its writer closes it', async () => {
    const store = new MemoryObjectStore();
    const [r, w] = rawPipe();
    const child = spawn('sh', ['-c', 'head -c 11534336 /dev/zero'], { stdio: ['ignore', w, 'ignore'] });
    closeSync(w);
    await uploadStream(testContext(store), { fd: r }, { target, plan: planParts({ partSize: 5 * MiB }) });
    closeSync(r);
    expect(store.data('b', target.key)?.equals(Buffer.alloc(11 * MiB))).toBe(true);
    expect(child.exitCode ?? (await new Promise((res) => child.once('exit', res)))).toBe(0);
  });

  it('treats a descriptor that cannot be read as the producer failing', async () => {
    const store = new MemoryObjectStore();
    const fd = openSync(tmpdir(), 'r');
    try {
      const err = await uploadStream(testContext(store), { fd }, { target, plan: planParts() }).catch((e) => e);
      expect(err).toBeInstanceOf(ProducerError);
      expect(err.message).toMatch(/reading the input failed: EISDIR/);
    } finally {
      closeSync(fd);
    }
  });

  it('splits a stream past the part limit into a chain that commits object 0 last', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(27 * MiB));
    const order: string[] = [];
    const complete = store.completeMultipartUpload.bind(store);
    store.completeMultipartUpload = async (ref, id, parts, opts) => {
      order.push(ref.key);
      return complete(ref, id, parts, opts);
    };
    const result = await uploadStream(testContext(store), pseudoRandom(27 * MiB), {
      target,
      plan: planParts({ partSize: 5 * MiB, maxParts: 2 }),
    });
    expect(result.objects.map((o) => o.key)).toEqual([0, 1, 2].map((i) => continuationKey(target.key, i)));
    expect(order[order.length - 1]).toBe(target.key);
    const pieces = result.objects.map((o) => store.data('b', o.key)!);
    expect(Buffer.concat(pieces).equals(data)).toBe(true);
    const index = parseChainIndex(store.data('b', chainIndexKey(target.key))!.toString(), 'index');
    expect(index.size).toBe(27 * MiB);
    expect(index.crc32c).toBe(result.crc32c);
    expect(index.objects.map((o) => o.size)).toEqual([10 * MiB, 10 * MiB, 7 * MiB]);
  });

  it('retries a part that failed with a retryable error and still commits a correct object', async () => {
    const store = new MemoryObjectStore();
    store.failNext('uploadPart', new FakeS3Error('InternalError', 500), 2);
    const data = await collect(pseudoRandom(12 * MiB));
    await uploadStream(testContext(store), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) });
    expect(store.data('b', target.key)?.equals(data)).toBe(true);
  });

  it('aborts the multipart upload and commits nothing when a part fails for good', async () => {
    const store = new MemoryObjectStore();
    store.failWhen('uploadPart', (n) => n >= 2, new FakeS3Error('AccessDenied', 403));
    await expect(
      uploadStream(testContext(store), pseudoRandom(30 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) }),
    ).rejects.toThrow(/AccessDenied/);
    expect(store.keys('b')).toEqual([]);
    expect(store.uploads.size).toBe(0);
    expect(store.calls.abort).toBe(1);
  });

  it('gives up on a store that keeps failing within the retry time', async () => {
    const store = new MemoryObjectStore();
    store.failWhen('uploadPart', () => true, new FakeS3Error('ServiceUnavailable', 503));
    const started = Date.now();
    await expect(
      uploadStream(testContext(store, { retry: { retryForMs: 300, baseDelayMs: 20, maxDelayMs: 50 } }), pseudoRandom(12 * MiB), {
        target,
        plan: planParts({ partSize: 5 * MiB }),
      }),
    ).rejects.toThrow(/giving up: ServiceUnavailable \(503\)/);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(store.uploads.size).toBe(0);
  });

  it('commits nothing when the check before commit fails, and says why', async () => {
    const store = new MemoryObjectStore();
    const failing = async () => {
      throw new ProducerError('the command exited with status 3', { exitStatus: 3 });
    };
    await expect(
      uploadStream(testContext(store), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }), beforeCommit: failing }),
    ).rejects.toThrow(/status 3/);
    await expect(
      uploadStream(testContext(store), pseudoRandom(1 * MiB), { target, plan: planParts(), beforeCommit: failing }),
    ).rejects.toThrow(/status 3/);
    expect(store.keys('b')).toEqual([]);
    expect(store.uploads.size).toBe(0);
  });

  it('treats a failing input as the producer failing and commits nothing', async () => {
    const store = new MemoryObjectStore();
    async function* broken() {
      yield* pseudoRandom(7 * MiB);
      throw new Error('EIO: read error');
    }
    const err = await uploadStream(testContext(store), broken(), { target, plan: planParts({ partSize: 5 * MiB }) }).catch((e) => e);
    expect(err).toBeInstanceOf(ProducerError);
    expect(String(err.message)).toMatch(/reading the input failed: EIO/);
    expect(store.uploads.size).toBe(0);
    expect(store.keys('b')).toEqual([]);
  });

  it('stops and aborts when the caller aborts the signal', async () => {
    const store = new MemoryObjectStore();
    const controller = new AbortController();
    async function* slow() {
      yield* pseudoRandom(6 * MiB);
      controller.abort(new Error('SIGINT'));
      yield* pseudoRandom(6 * MiB);
    }
    await expect(
      uploadStream(testContext(store), slow(), { target, plan: planParts({ partSize: 5 * MiB }), signal: controller.signal }),
    ).rejects.toThrow(/SIGINT/);
    expect(store.uploads.size).toBe(0);
  });

  it('deletes the object and fails when the stored size differs from what was sent', async () => {
    const store = new MemoryObjectStore();
    store.headSizeDelta = -1;
    const err = await uploadStream(testContext(store), pseudoRandom(12 * MiB), { target, plan: planParts({ partSize: 5 * MiB }) }).catch((e) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(store.keys('b')).toEqual([]);
  });

  it('fails with an EFBIG error when the stream outgrows one object and splitting is off', async () => {
    const store = new MemoryObjectStore();
    const err = await uploadStream(testContext(store), pseudoRandom(16 * MiB), {
      target,
      plan: planParts({ partSize: 5 * MiB, maxParts: 2, split: false }),
    }).catch((e) => e);
    expect(err.errno).toBe(27);
    expect(store.uploads.size).toBe(0);
    expect(store.keys('b')).toEqual([]);
  });
});
