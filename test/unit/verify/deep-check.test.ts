// deepCheckFile as verify --deep runs it: each range lands in one of readRanged's reused buffers, overwritten by a
// later range, so a content check that still holds a chunk must get a copy.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32cToHex, crc32c } from '../../../src/checksum/crc32c.js';
import type { ManifestFile } from '../../../src/manifest/manifest.js';
import { deepCheckFile } from '../../../src/verify/deep-check.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { pseudoRandom, collect, testContext } from '../../support/uploader.js';

async function stored(path: string, data: Buffer) {
  const store = new MemoryObjectStore();
  const { etag } = await store.putObject({ bucket: 'bkt', key: path, body: [data], contentLength: data.length, contentMd5: createHash('md5').update(data).digest('base64'), settings: {} });
  const file = { path, key: path, size: data.length, crc32c: crc32cToHex(crc32c(data)), etag, parts: 1, partSizes: [data.length] } as unknown as ManifestFile;
  const ctx = testContext(store);
  return { ctx: { store, retry: ctx.retry, log: ctx.log }, file };
}

describe('deepCheckFile reading into reused buffers', () => {
  const ranges = { chunkSize: 64 * 1024, window: 4 };

  it('checks a gzip file of many ranges whole, its decompressor given copies of the chunks it still holds', async () => {
    // Incompressible bytes: the gzip stream is as long as its input, so it spans ~48 ranges of 64 KiB.
    const { ctx, file } = await stored('dump.sql.gz', gzipSync(await collect(pseudoRandom(3 * 1024 * 1024))));
    await expect(deepCheckFile(ctx, 'bkt', file, ranges)).resolves.toMatchObject({ status: 'ok', format: 'gzip' });
  });

  it('still finds a damaged gzip file damaged', async () => {
    const gz = gzipSync(await collect(pseudoRandom(1024 * 1024)));
    gz[gz.length - 6]! ^= 1; // the trailer's CRC
    const { ctx, file } = await stored('dump.sql.gz', gz);
    const check = await deepCheckFile(ctx, 'bkt', file, ranges);
    expect(check.status).not.toBe('ok');
  });

  it('checks a file of no known format by its checksum alone', async () => {
    const { ctx, file } = await stored('data.bin', await collect(pseudoRandom(1024 * 1024)));
    await expect(deepCheckFile(ctx, 'bkt', file, ranges)).resolves.toMatchObject({ status: 'ok' });
    await expect(deepCheckFile(ctx, 'bkt', { ...file, crc32c: '00000000' }, ranges)).resolves.toMatchObject({ status: 'checksum mismatch' });
  });
});
