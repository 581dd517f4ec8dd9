// The files a failed command read but did not read whole, read whole again before the run picks its exit (run --from).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Crc32c } from '../../../src/checksum/crc32c.js';
import { UncheckedReads } from '../../../src/ingest/unchecked-reads.js';
import type { RestoreItem } from '../../../src/restore/restore-item.js';
import { Limiter } from '../../../src/util/limiter.js';
import { MiB } from '../../../src/util/size.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';

async function stored(store: MemoryObjectStore, path: string, data: Buffer, crcOf: Buffer = data): Promise<RestoreItem> {
  const key = `b/${path}`;
  const contentMd5 = createHash('md5').update(data).digest('base64');
  const { etag } = await store.putObject({ bucket: 'bkt', key, body: [data], contentLength: data.length, contentMd5, settings: {} });
  const crc = new Crc32c();
  crc.update(crcOf);
  return { path, key, size: data.length, pieces: [{ key, size: data.length, etag }], crc32c: crc.hex() } as RestoreItem;
}

describe('UncheckedReads', () => {
  it('reads whole each file opened and not settled, and names only those whose bytes do not match the manifest', async () => {
    const store = new MemoryObjectStore();
    const ctx = testContext(store);
    const good = await collect(pseudoRandom(9 * MiB, 64 * 1024, 1));
    const bad = await collect(pseudoRandom(9 * MiB, 64 * 1024, 2));
    const rotten = Buffer.from(bad);
    rotten[8 * MiB] = rotten[8 * MiB]! ^ 1;
    const items = [await stored(store, 'good.bin', good), await stored(store, 'bad.bin', rotten, bad), await stored(store, 'read-whole.bin', rotten, bad)];
    const reads = new UncheckedReads();
    for (const item of items) reads.opened(item);
    reads.settle('read-whole.bin'); // read to its end: checked (or named) already
    expect(reads.size).toBe(2);
    const failures: string[] = [];
    const left = await reads.check({
      tree: { bucket: 'bkt', get: (p) => items.find((i) => i.path === p) },
      read: { store, retry: ctx.retry, log: ctx.log },
      requests: new Limiter(4),
      memory: ctx.budget,
      signal: new AbortController().signal,
      onFailure: (path) => failures.push(path),
    }, 's3://bkt/b/');
    expect(left).toEqual([]);
    expect(failures).toEqual(['bad.bin']);
    expect(reads.size).toBe(0);
  });
});
