import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Decrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { crc32c, crc32cToHex } from '../../../src/checksum/crc32c.js';
import { CHUNK_SIZE } from '../../../src/crypto/age-chunks.js';
import { AgeDecryptor } from '../../../src/crypto/age-stream.js';
import { BLOCK_SIZE, encryptSource } from '../../../src/crypto/encrypt-source.js';
import type { ByteSource } from '../../../src/upload/stream-uploader.js';

let dir: string;
let secret: string;
let recipient: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'diskless-encsrc-'));
  secret = await generateIdentity();
  recipient = await identityToRecipient(secret);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Reads the source as the uploader does, copying each piece before asking for the next; `slow` waits first, so the runs in flight finish while a piece is held. */
async function drain(source: AsyncIterable<Uint8Array>, slow = false): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const piece of source) {
    if (slow) await sleep(2);
    out.push(Buffer.from(piece));
  }
  return Buffer.concat(out);
}

async function bothDecrypt(cipher: Buffer, plain: Buffer): Promise<void> {
  const d = new Decrypter();
  d.addIdentity(secret);
  expect(Buffer.from(await d.decrypt(cipher)).equals(plain)).toBe(true);
  const ours = new AgeDecryptor({ identities: [secret] });
  const back = Buffer.concat([...(await ours.push(cipher)), ...(await ours.finish())]);
  expect(back.equals(plain)).toBe(true);
}

const SIZES = [0, 1, BLOCK_SIZE - 1, BLOCK_SIZE, BLOCK_SIZE + 1, 4 * BLOCK_SIZE, 4 * BLOCK_SIZE + 1, 5 * BLOCK_SIZE + CHUNK_SIZE, 9 * BLOCK_SIZE - CHUNK_SIZE + 3];

describe('encryptSource: the plaintext read and sealed in pipelined blocks', () => {
  it.each(SIZES)('a file descriptor of %i bytes gives one age stream both age implementations decrypt, with the plaintext size and CRC32C recorded', async (size) => {
    const plain = randomBytes(size);
    const file = join(dir, `plain-${size}`);
    writeFileSync(file, plain);
    const fd = openSync(file, 'r');
    try {
      const src = await encryptSource({ fd }, [recipient]);
      await bothDecrypt(await drain(src.source, size > 2 * BLOCK_SIZE), plain);
      expect(src.plaintextBytes()).toBe(size);
      expect(src.record()).toEqual({ format: 'age-v1', recipients: [recipient], plaintextSize: size, plaintextCrc32c: crc32cToHex(crc32c(plain)) });
    } finally {
      closeSync(fd);
    }
  });

  it.each(SIZES)('an iterable of %i bytes in uneven pieces (some empty) gives the same plaintext back', async (size) => {
    const plain = randomBytes(size);
    const steps = [CHUNK_SIZE, 0, 1, BLOCK_SIZE, 333_333, BLOCK_SIZE - 1];
    const src = await encryptSource(
      (async function* () {
        for (let at = 0, i = 0; at <= plain.length; i++) {
          const n = steps[i % steps.length]!;
          yield plain.subarray(at, at + n);
          if (at === plain.length) break;
          at = Math.min(plain.length, at + n);
        }
      })(),
      [recipient],
    );
    await bothDecrypt(await drain(src.source, size > 2 * BLOCK_SIZE), plain);
    expect(src.record().plaintextCrc32c).toBe(crc32cToHex(crc32c(plain)));
  });

  it('a source that fails after some blocks ends the ciphertext in its error, and the source is not read further', async () => {
    let reads = 0;
    const failing: ByteSource = (async function* () {
      for (let i = 0; i < 6; i++) {
        reads++;
        yield randomBytes(BLOCK_SIZE);
      }
      throw new Error('the producer died');
    })();
    const src = await encryptSource(failing, [recipient]);
    await expect(drain(src.source)).rejects.toThrow('the producer died');
    expect(reads).toBe(6);
  });

  it('a consumer that stops early ends the source iteration', async () => {
    let closed = false;
    const source: ByteSource = (async function* () {
      try {
        for (;;) yield randomBytes(BLOCK_SIZE);
      } finally {
        closed = true;
      }
    })();
    const src = await encryptSource(source, [recipient]);
    let pieces = 0;
    for await (const _ of src.source) if (++pieces === 3) break;
    // A read still in flight is not waited for, so the source ends once that read is answered.
    await vi.waitFor(() => expect(closed).toBe(true));
  });

  it('a consumer that stops while the source has gone silent is not kept waiting by the read in flight', async () => {
    const silent: ByteSource = (async function* () {
      yield randomBytes(BLOCK_SIZE);
      yield randomBytes(BLOCK_SIZE);
      await new Promise(() => undefined); // a producer that holds its end open and writes nothing
    })();
    const src = await encryptSource(silent, [recipient]);
    let pieces = 0;
    for await (const _ of src.source) if (++pieces === 2) break; // the header, then the first block
    expect(pieces).toBe(2);
  }, 5000);

  it('a file descriptor that cannot be read ends the ciphertext in the read error', async () => {
    const src = await encryptSource({ fd: 987_654 }, [recipient]);
    await expect(drain(src.source)).rejects.toThrow(/EBADF/);
  });
});
