// extractArchive with real tar: the archive's ranges land in readRanged's reused buffers, so each must be in
// tar's pipe before the next range is asked for, or a later range overwrites bytes tar has not read yet.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c, crc32cToHex } from '../../../src/checksum/crc32c.js';
import { extractArchive, extractArgv } from '../../../src/restore/archive-extractor.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';

const work: string[] = [];
afterEach(() => {
  for (const dir of work.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function archived(files: number, size: number) {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-extract-'));
  work.push(dir);
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < files; i++) writeFileSync(join(dir, 'src', `f${i}`), await collect(pseudoRandom(size + i, 64 * 1024, i + 1)));
  const tar = execFileSync('tar', ['-c', '-C', join(dir, 'src'), '.'], { maxBuffer: 1 << 28 });
  const store = new MemoryObjectStore();
  const { etag } = await store.putObject({ bucket: 'bkt', key: 'vol.tar', body: [tar], contentLength: tar.length, contentMd5: createHash('md5').update(tar).digest('base64'), settings: {} });
  const item = { path: 'vol', key: 'vol.tar', size: tar.length, pieces: [{ key: 'vol.tar', size: tar.length, etag }], crc32c: crc32cToHex(crc32c(tar)) };
  const ctx = testContext(store);
  return { dir, store, item, read: { store, retry: ctx.retry, log: ctx.log } };
}

describe('extractArchive', () => {
  it('extracts an archive of many small ranges byte for byte through a slow tar pipe', async () => {
    const { dir, store, item, read } = await archived(12, 300 * 1024);
    store.delayMs.get = 1;
    const out = join(dir, 'out');
    mkdirSync(out);
    // 4 KiB ranges (below the pipe stream's high-water mark: a write that is only queued still returns true), 8 in
    // flight, ahead of a pipe that starts reading late: each buffer is reused many times while the pipe holds bytes.
    const slow = ['sh', '-c', 'sleep 0.3; exec cat'];
    await extractArchive(read, 'bkt', item, [slow, extractArgv([], out, false).argv], { chunkSize: 4 * 1024, window: 8 });
    for (let i = 0; i < 12; i++) expect(readFileSync(join(out, `f${i}`)).equals(readFileSync(join(dir, 'src', `f${i}`))), `f${i}`).toBe(true);
  });

  it('fails naming tar when tar cannot extract (no checksum mismatch for an archive it stopped reading)', async () => {
    const { dir, item, read } = await archived(2, 100 * 1024);
    await expect(extractArchive(read, 'bkt', item, [extractArgv([], join(dir, 'no-such-dir'), false).argv], { chunkSize: 16 * 1024 })).rejects.toThrow(/tar .*exited with status 2/);
  });
});
