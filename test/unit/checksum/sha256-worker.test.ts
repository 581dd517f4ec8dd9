import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OffThreadSha256 } from '../../../src/checksum/sha256-worker.js';

describe('OffThreadSha256', () => {
  it('gives the SHA-256 of every chunk it was fed, in order, with more fed than its 16 MiB ring holds', async () => {
    const chunks = Array.from({ length: 24 }, (_, i) => randomBytes(2 * 1024 * 1024 + i));
    const local = createHash('sha256');
    const worker = new OffThreadSha256();
    for (const c of chunks) {
      local.update(c);
      await worker.update(c);
    }
    expect(await worker.hex()).toBe(local.digest('hex'));
  });

  it('gives the right SHA-256 for chunks of every size around its 1 MiB slots, reused by the caller after each update', async () => {
    const sizes = [1, 65_536, 1024 * 1024 - 1, 1, 1024 * 1024, 3 * 1024 * 1024 + 7, 0, 12_345, 1024 * 1024 + 1];
    const local = createHash('sha256');
    const worker = new OffThreadSha256();
    const reused = Buffer.alloc(4 * 1024 * 1024);
    for (const n of sizes) {
      const c = randomBytes(n);
      local.update(c);
      c.copy(reused);
      await worker.update(reused.subarray(0, n));
      reused.fill(0xee); // what the worker hashes was copied: overwriting the caller's buffer changes nothing
    }
    expect(await worker.hex()).toBe(local.digest('hex'));
  });

  it('hashes an empty input', async () => {
    expect(await new OffThreadSha256().hex()).toBe(createHash('sha256').digest('hex'));
  });
});
