import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/checksum/crc32c.js';
import { CHUNK_SIZE, TAG_SIZE, openChunks, sealChunks, sealedSize } from '../../../src/crypto/age-chunks.js';

// The reference: each chunk sealed on its own by Node's createCipheriv, the nonce built as the age
// spec says (11-byte big-endian counter, then 1 for the last chunk of the stream, else 0).
function reference(key: Buffer, firstCounter: number, plain: Buffer, final: boolean): Buffer {
  const chunks = final ? Math.max(1, Math.ceil(plain.length / CHUNK_SIZE)) : plain.length / CHUNK_SIZE;
  const out: Buffer[] = [];
  for (let i = 0; i < chunks; i++) {
    const nonce = Buffer.alloc(12);
    nonce.writeUIntBE(firstCounter + i, 5, 6);
    nonce[11] = final && i === chunks - 1 ? 1 : 0;
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    out.push(c.update(plain.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)));
    c.final();
    out.push(c.getAuthTag());
  }
  return Buffer.concat(out);
}

async function seal(key: Buffer, counter: number, plain: Buffer, final: boolean): Promise<Buffer> {
  const out = Buffer.alloc(sealedSize(plain.length, final) + 7, 0xee); // room to spare: nothing written past the run
  const run = await sealChunks(key, counter, plain, out, final);
  expect(run.bytes).toBe(sealedSize(plain.length, final));
  expect(run.crc32c).toBe(crc32c(plain));
  expect(out.subarray(run.bytes).every((b) => b === 0xee)).toBe(true);
  return out.subarray(0, run.bytes);
}

describe('sealChunks (age STREAM chunks sealed on the thread pool)', () => {
  const key = randomBytes(32);

  it.each([
    ['an empty final run (one empty chunk)', 0, true],
    ['one byte', 1, true],
    ['exactly 64 KiB, final', CHUNK_SIZE, true],
    ['exactly 64 KiB, not final', CHUNK_SIZE, false],
    ['64 KiB + 1, final (a full chunk, then a one-byte last chunk)', CHUNK_SIZE + 1, true],
    ['3 MiB + 5, final', 3 * 1024 * 1024 + 5, true],
    ['3 MiB, not final', 3 * 1024 * 1024, false],
  ] as const)('seals %s exactly as createCipheriv does chunk by chunk, with the CRC32C of the plaintext', async (_what, size, final) => {
    const plain = randomBytes(size);
    for (const counter of [0, 5, 2 ** 40 + 3]) expect((await seal(key, counter, plain, final)).equals(reference(key, counter, plain, final))).toBe(true);
  });

  it('flags only the last chunk of a final run: a run sealed as not final differs from it in its last chunk alone', async () => {
    const plain = randomBytes(3 * CHUNK_SIZE);
    const final = await seal(key, 0, plain, true);
    const notFinal = await seal(key, 0, plain, false);
    const lastStart = 2 * (CHUNK_SIZE + TAG_SIZE);
    expect(final.subarray(0, lastStart).equals(notFinal.subarray(0, lastStart))).toBe(true);
    expect(final.subarray(lastStart + CHUNK_SIZE).equals(notFinal.subarray(lastStart + CHUNK_SIZE))).toBe(false);
  });

  it('seals runs in flight together, each at its own counters, as one sequential seal does', async () => {
    const plain = randomBytes(8 * 16 * CHUNK_SIZE + 999);
    const block = 16 * CHUNK_SIZE;
    const runs = await Promise.all(
      Array.from({ length: 9 }, (_, i) => seal(key, i * 16, plain.subarray(i * block, (i + 1) * block), i === 8)),
    );
    expect(Buffer.concat(runs).equals(reference(key, 0, plain, true))).toBe(true);
  });

  it('refuses a run that is not final and not whole chunks, an output too small, and a key of the wrong size', () => {
    expect(() => sealChunks(key, 0, Buffer.alloc(CHUNK_SIZE + 1), Buffer.alloc(2 * CHUNK_SIZE), false)).toThrow(RangeError);
    expect(() => sealChunks(key, 0, Buffer.alloc(100), Buffer.alloc(100 + TAG_SIZE - 1), true)).toThrow(/out holds 115 bytes, the run needs 116/);
    expect(() => sealChunks(key.subarray(0, 16), 0, Buffer.alloc(1), Buffer.alloc(100), true)).toThrow(/key must be 32 bytes/);
    expect(() => sealChunks(key, -1, Buffer.alloc(1), Buffer.alloc(100), true)).toThrow(RangeError);
    expect(() => sealChunks(key, 0, 'nope' as unknown as Uint8Array, Buffer.alloc(100), true)).toThrow(TypeError);
  });
});

describe('openChunks (age STREAM chunks opened on the thread pool)', () => {
  const key = randomBytes(32);

  it.each([0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * 1024 * 1024 + 5])('opens what sealChunks sealed (%i bytes) into the plaintext and its CRC32C', async (size) => {
    const plain = randomBytes(size);
    const sealed = await seal(key, 9, plain, true);
    const out = Buffer.alloc(size);
    const run = await openChunks(key, 9, sealed, out, true);
    expect(run).toEqual({ bytes: size, crc32c: crc32c(plain), failed: -1 });
    expect(out.equals(plain)).toBe(true);
  });

  it('stops at the first chunk that does not authenticate, counting only the chunks before it', async () => {
    const plain = randomBytes(4 * CHUNK_SIZE);
    const sealed = Buffer.from(await seal(key, 0, plain, true));
    sealed[2 * (CHUNK_SIZE + TAG_SIZE) + 10]! ^= 1;
    const out = Buffer.alloc(plain.length, 0xaa);
    const run = await openChunks(key, 0, sealed, out, true);
    expect(run).toEqual({ bytes: 2 * CHUNK_SIZE, crc32c: crc32c(plain.subarray(0, 2 * CHUNK_SIZE)), failed: 2 });
    // The chunk that failed leaves none of its unauthenticated plaintext behind in the output buffer.
    expect(out.subarray(2 * CHUNK_SIZE, 3 * CHUNK_SIZE).equals(Buffer.alloc(CHUNK_SIZE))).toBe(true);
  });

  it('fails a chunk opened with the wrong counter or the wrong last flag', async () => {
    const sealed = await seal(key, 4, randomBytes(CHUNK_SIZE), true);
    expect((await openChunks(key, 5, sealed, Buffer.alloc(CHUNK_SIZE), true)).failed).toBe(0);
    expect((await openChunks(key, 4, sealed, Buffer.alloc(CHUNK_SIZE), false)).failed).toBe(0);
  });

  it('refuses a final run whose last chunk is shorter than its tag', () => {
    expect(() => openChunks(key, 0, Buffer.alloc(CHUNK_SIZE + TAG_SIZE + 5), Buffer.alloc(2 * CHUNK_SIZE), true)).toThrow(/shorter than its tag/);
  });
});
