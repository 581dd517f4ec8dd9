import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/store-error.js';
import { downloadObject, writeOut } from '../../../src/download/object-reader.js';
import { chainIndexKey } from '../../../src/upload/chain.js';
import { planParts } from '../../../src/upload/part-planner.js';
import { uploadStream } from '../../../src/upload/stream-uploader.js';
import { silentLogger } from '../../../src/util/log.js';
import { MiB } from '../../../src/util/size.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';

const target = { bucket: 'bkt', key: 'dump.bin' };
const retry = { retryForMs: 1_000, baseDelayMs: 1, maxDelayMs: 5 };

async function download(store: MemoryObjectStore) {
  const out = new PassThrough();
  const collected = collect(out);
  const result = await downloadObject({ store, retry, log: silentLogger }, target, out);
  out.end();
  return { result, data: await collected };
}

describe('downloadObject', () => {
  it('reassembles a chain in order and checks its CRC32C', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(23 * MiB));
    await uploadStream(testContext(store), pseudoRandom(23 * MiB), { target, plan: planParts({ partSize: 5 * MiB, maxParts: 2 }) });
    const { result, data: got } = await download(store);
    expect(got.equals(data)).toBe(true);
    expect(result.objects).toBe(3);
  });

  it('ignores a chain index left by an older upload to the same key', async () => {
    const store = new MemoryObjectStore();
    await uploadStream(testContext(store), pseudoRandom(23 * MiB), { target, plan: planParts({ partSize: 5 * MiB, maxParts: 2 }) });
    const staleIndex = store.data(target.bucket, chainIndexKey(target.key))!;
    // A later, smaller upload to the same key replaces object 0; the old index stays behind.
    const small = await collect(pseudoRandom(12 * MiB, 64 * 1024, 7));
    await uploadStream(testContext(store), pseudoRandom(12 * MiB, 64 * 1024, 7), { target, plan: planParts({ partSize: 5 * MiB }) });
    expect(store.data(target.bucket, chainIndexKey(target.key))).toEqual(staleIndex);
    const { data } = await download(store);
    expect(data.equals(small)).toBe(true);
  });

  it('fails when a piece of the chain holds other bytes than were recorded', async () => {
    const store = new MemoryObjectStore();
    await uploadStream(testContext(store), pseudoRandom(23 * MiB), { target, plan: planParts({ partSize: 5 * MiB, maxParts: 2 }) });
    const piece = store.objects.get(`bkt/dump.bin.diskless-cont-0001`)!;
    piece.data = Buffer.from(piece.data);
    piece.data[100] = piece.data[100]! ^ 1;
    await expect(download(store)).rejects.toThrow(/diskless-cont-0001: CRC32C .* differs from the recorded/);
  });

  it('resumes a download cut off mid-object from where it stopped', async () => {
    const store = new MemoryObjectStore();
    const data = await collect(pseudoRandom(3 * MiB));
    await uploadStream(testContext(store), pseudoRandom(3 * MiB), { target, plan: planParts() });
    const get = store.getObject.bind(store);
    let cut = false;
    store.getObject = async (ref, opts) => {
      const res = await get(ref, opts);
      if (!res || cut) return res;
      cut = true;
      const whole = res.body;
      return {
        ...res,
        body: (async function* () {
          for await (const c of whole) yield c.subarray(0, 1000);
          throw new StoreError('retryable', 'ECONNRESET', 'read ECONNRESET');
        })(),
      };
    };
    const { data: got } = await download(store);
    expect(got.equals(data)).toBe(true);
  });

  it('stops at once, without retrying, when the reader of its output goes away', async () => {
    const store = new MemoryObjectStore();
    await uploadStream(testContext(store), pseudoRandom(3 * MiB), { target, plan: planParts() });
    const out = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const started = Date.now();
    const err = await downloadObject({ store, retry: { retryForMs: 5_000, baseDelayMs: 200, maxDelayMs: 1_000 }, log: silentLogger }, target, out).catch((e) => e);
    expect(err.message).toMatch(/writing the output failed: write EPIPE/);
    expect(err.category).toBe('producer');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(store.calls.get).toBe(1);
  });

  it('says the object does not exist when there is none', async () => {
    await expect(download(new MemoryObjectStore())).rejects.toThrow(/s3:\/\/bkt\/dump.bin does not exist \(NoSuchKey\)/);
  });
});

describe('writeOut', () => {
  it('fails at once, instead of waiting for ever, on an output destroyed while nothing was being written (a reader gone during a GET)', async () => {
    for (const flushed of [false, true]) {
      const out = new Writable({ highWaterMark: 4, write: (_c, _e, cb) => cb() });
      out.on('error', () => undefined);
      out.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      await new Promise((r) => setImmediate(r)); // its 'error' and 'close' are gone before the next write
      const err = await writeOut(out, Buffer.alloc(64), { flushed }).then(() => undefined, (e: unknown) => e);
      expect((err as { cause?: { code?: string } }).cause?.code).toBe('EPIPE');
    }
  });
});
