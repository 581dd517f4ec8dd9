import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OffThreadSha256 } from '../../../src/checksum/sha256-worker.js';

describe('OffThreadSha256', () => {
  it('gives the SHA-256 of every chunk it was fed, in order, with more queued than its 32 MiB bound', async () => {
    const chunks = Array.from({ length: 24 }, (_, i) => randomBytes(2 * 1024 * 1024 + i));
    const local = createHash('sha256');
    const worker = new OffThreadSha256();
    for (const c of chunks) {
      local.update(c);
      await worker.update(c);
    }
    expect(await worker.hex()).toBe(local.digest('hex'));
  });

  it('hashes an empty input', async () => {
    expect(await new OffThreadSha256().hex()).toBe(createHash('sha256').digest('hex'));
  });
});
