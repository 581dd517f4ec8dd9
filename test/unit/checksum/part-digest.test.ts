import { createHash, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { crc32c, crc32cCombine } from '../../../src/checksum/crc32c.js';
import { hashPart } from '../../../src/checksum/part-digest.js';

describe('hashPart (MD5 and CRC32C of a part on the thread pool)', () => {
  it('gives the same MD5 and CRC32C as hashing the concatenated chunks on the main thread', async () => {
    const chunks = [randomBytes(1 << 20), randomBytes(70_001), Buffer.alloc(0), randomBytes(3)];
    const whole = Buffer.concat(chunks);
    const digest = await hashPart(chunks);
    expect(digest.md5!.toString('hex')).toBe(createHash('md5').update(whole).digest('hex'));
    expect(digest.crc32c).toBe(crc32c(whole));
  });

  it('hashes only the bytes a view shows, not the rest of its buffer', async () => {
    const backing = randomBytes(4096);
    const view = backing.subarray(100, 300);
    const digest = await hashPart([view]);
    expect(digest.md5!.toString('hex')).toBe(createHash('md5').update(view).digest('hex'));
    expect(digest.crc32c).toBe(crc32c(view));
  });

  it('gives the MD5 of nothing and CRC 0 for no chunks', async () => {
    const digest = await hashPart([]);
    expect(digest.md5!.toString('hex')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(digest.crc32c).toBe(0);
  });

  it('hashes many parts at once, each correctly', async () => {
    const parts = Array.from({ length: 12 }, (_, i) => [randomBytes(256 * 1024 + i)]);
    const digests = await Promise.all(parts.map((p) => hashPart(p)));
    digests.forEach((d, i) => expect(d.md5!.toString('hex')).toBe(createHash('md5').update(parts[i]![0]!).digest('hex')));
  });

  it('gives only the CRC32C, and no MD5, when asked without it (a part sent with a CRC32C checksum)', async () => {
    const chunks = [randomBytes(3 << 20), randomBytes(12_345)];
    const digest = await hashPart(chunks, false);
    expect(digest.md5).toBeUndefined();
    expect(digest.crc32c).toBe(crc32c(Buffer.concat(chunks)));
  });

  it('rejects a chunk that is not a byte array with a TypeError', () => {
    expect(() => hashPart(['nope' as unknown as Uint8Array])).toThrow(TypeError);
  });
});

describe('crc32cCombine', () => {
  it('joins the CRC32Cs of consecutive pieces into the CRC32C of the whole', () => {
    const a = randomBytes(5 * 1024 * 1024 + 17);
    const b = randomBytes(999);
    const c = randomBytes(8 * 1024 * 1024);
    const joined = crc32cCombine(crc32cCombine(crc32c(a), crc32c(b), b.length), crc32c(c), c.length);
    expect(joined).toBe(crc32c(Buffer.concat([a, b, c])));
  });

  it('starting from 0 (nothing yet) gives the second CRC, and appending nothing keeps the first', () => {
    const b = randomBytes(1000);
    expect(crc32cCombine(0, crc32c(b), b.length)).toBe(crc32c(b));
    expect(crc32cCombine(crc32c(b), 0, 0)).toBe(crc32c(b));
  });

  it('handles lengths past 4 GiB (the combine works on 64-bit lengths)', () => {
    // The CRC of 5 GiB of zeros, joined from 5 × 1 GiB, equals the CRC of 1 GiB of zeros extended 4 times.
    const zeros = Buffer.alloc(1 << 20);
    let mib = 0;
    for (let i = 0; i < 1024; i++) mib = crc32c(zeros, mib); // 1 GiB of zeros
    let five = 0;
    for (let i = 0; i < 5; i++) five = crc32cCombine(five, mib, 1 << 30);
    let direct = mib;
    direct = crc32cCombine(direct, crc32cCombine(crc32cCombine(mib, mib, 1 << 30), crc32cCombine(mib, mib, 1 << 30), 2 ** 31), 2 ** 32);
    expect(five).toBe(direct);
  });

  it('rejects a negative or fractional length', () => {
    expect(() => crc32cCombine(1, 2, -1)).toThrow(RangeError);
    expect(() => crc32cCombine(1, 2, 1.5)).toThrow(RangeError);
  });
});
