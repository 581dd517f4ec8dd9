import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { Decrypter, Encrypter } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c, crc32cToHex } from '../../../src/checksum/crc32c.js';
import { AgeDecryptor, AgeEncryptor, CHUNK_SIZE, DecryptError, HEAD_BYTES, decryptTransform, headerSizeBound, payloadSize } from '../../../src/crypto/age-stream.js';
import { loadIdentities, loadRecipients } from '../../../src/crypto/recipients.js';
import { encryptSource, encryptTransform } from '../../../src/crypto/encrypt-source.js';

// The age CLI (Debian package `age`, scripts/install-deps.sh) is the reference a user restores with.
let dir: string;
const keys: Array<{ file: string; recipient: string; secret: string }> = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'diskless-age-'));
  for (const name of ['a', 'b']) {
    const file = join(dir, `${name}.key`);
    execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
    const secret = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    keys.push({ file, recipient, secret });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function encrypt(plain: Buffer, recipients = [keys[0]!.recipient], pieces = 3): Promise<Buffer> {
  const step = Math.max(1, Math.ceil(plain.length / pieces));
  const src = await encryptSource((async function* () { for (let at = 0; at < plain.length; at += step) yield plain.subarray(at, at + step); })(), recipients);
  const out: Buffer[] = [];
  for await (const piece of src.source) out.push(Buffer.from(piece)); // a piece is valid until the next is asked for
  return Buffer.concat(out);
}

async function decrypt(cipher: Buffer, identities = [keys[0]!.secret], pieceSize = 10_000): Promise<Buffer> {
  const d = new AgeDecryptor({ identities, recipients: [keys[0]!.recipient], what: 'test' });
  const out: Buffer[] = [];
  for (let at = 0; at < cipher.length; at += pieceSize) out.push(...(await d.push(cipher.subarray(at, at + pieceSize))));
  out.push(...(await d.finish()));
  return Buffer.concat(out);
}

function ageDecrypt(cipher: Buffer, keyFile = keys[0]!.file): Buffer {
  return execFileSync('age', ['-d', '-i', keyFile], { input: cipher, maxBuffer: 64 * 1024 * 1024 });
}

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 12345];

describe('age STREAM with Node ChaCha20-Poly1305', () => {
  it.each(SIZES)('writes %i bytes that the age CLI and the reference library decrypt to the input, at the size payloadSize predicts', async (size) => {
    const plain = randomBytes(size);
    const cipher = await encrypt(plain);
    expect(ageDecrypt(cipher).equals(plain)).toBe(true);
    const d = new Decrypter();
    d.addIdentity(keys[0]!.secret);
    expect(Buffer.from(await d.decrypt(cipher)).equals(plain)).toBe(true);
    expect(cipher.length - payloadSize(size)).toBeLessThanOrEqual(headerSizeBound(1));
    expect(cipher.length - payloadSize(size)).toBeGreaterThan(headerSizeBound(1) - 80);
  });

  it.each(SIZES)('decrypts what age -r writes (%i bytes), fed in odd pieces', async (size) => {
    const plain = randomBytes(size);
    const cipher = execFileSync('age', ['-r', keys[0]!.recipient], { input: plain, maxBuffer: 64 * 1024 * 1024 });
    for (const piece of [1, 7919, 65_552, 1 << 20]) {
      if (piece === 1 && size > 1000) continue;
      expect((await decrypt(cipher, undefined, piece)).equals(plain)).toBe(true);
    }
  });

  it.each([16 * CHUNK_SIZE, 16 * CHUNK_SIZE + 1, 40 * CHUNK_SIZE + 3])('decrypts what age -r writes (%i bytes, past a run of 16 chunks opened at once), fed in pieces of 64 KiB and of 1 MiB + 7', async (size) => {
    const plain = randomBytes(size);
    const cipher = execFileSync('age', ['-r', keys[0]!.recipient], { input: plain, maxBuffer: 64 * 1024 * 1024 });
    for (const piece of [65_536, (1 << 20) + 7, cipher.length]) expect((await decrypt(cipher, undefined, piece)).equals(plain)).toBe(true);
  });

  it('names the chunk that does not authenticate in a long stream, wherever the pieces fall', async () => {
    const plain = randomBytes(40 * CHUNK_SIZE);
    const cipher = await encrypt(plain);
    const bad = Buffer.from(cipher);
    bad[cipher.length - payloadSize(plain.length) + 16 + 20 * (CHUNK_SIZE + 16) + 7]! ^= 1;
    for (const piece of [65_536, bad.length]) await expect(decrypt(bad, undefined, piece)).rejects.toThrow(/chunk 20 does not authenticate: the stream is damaged/);
  });

  it('decrypts what the reference library encrypts', async () => {
    const plain = randomBytes(200_000);
    const e = new Encrypter();
    e.addRecipient(keys[1]!.recipient);
    expect((await decrypt(Buffer.from(await e.encrypt(plain)), [keys[1]!.secret])).equals(plain)).toBe(true);
  });

  it('encrypts to two recipients, either of whose identities decrypts (age CLI and diskless)', async () => {
    const plain = randomBytes(100_000);
    const cipher = await encrypt(plain, keys.map((k) => k.recipient));
    for (const k of keys) {
      expect(ageDecrypt(cipher, k.file).equals(plain)).toBe(true);
      expect((await decrypt(cipher, [k.secret])).equals(plain)).toBe(true);
    }
  });

  it('records the plaintext size and CRC32C, and the recipients, never a secret', async () => {
    const plain = randomBytes(150_000);
    const src = await encryptSource((async function* () { yield plain; })(), [keys[0]!.recipient]);
    for await (const _ of src.source);
    const record = src.record();
    expect(record).toEqual({ format: 'age-v1', recipients: [keys[0]!.recipient], plaintextSize: plain.length, plaintextCrc32c: crc32cToHex(crc32c(plain)) });
    expect(JSON.stringify(record)).not.toContain('AGE-SECRET-KEY');
  });

  it('uses a new file key and nonce for every stream: the same input never gives the same ciphertext', async () => {
    const plain = Buffer.alloc(100_000, 7);
    expect((await encrypt(plain)).equals(await encrypt(plain))).toBe(false);
  });
});

describe('what does not authenticate fails, and nothing unauthenticated comes out', () => {
  const plain = randomBytes(5 * CHUNK_SIZE + 100);
  let cipher: Buffer;
  let headerLength: number;
  beforeAll(async () => {
    cipher = await encrypt(plain);
    headerLength = cipher.length - payloadSize(plain.length);
  });
  const sealed = CHUNK_SIZE + 16;

  it.each([
    ['inside the header', () => 40],
    ['right after the header and nonce', () => headerLength + 16],
    ['inside the first chunk', () => headerLength + 16 + 1000],
    ['exactly at a chunk boundary', () => headerLength + 16 + 2 * sealed],
    ['one byte before the end', () => cipher.length - 1],
  ])('a stream cut %s fails with a DecryptError', async (_what, at) => {
    await expect(decrypt(cipher.subarray(0, at()))).rejects.toThrow(DecryptError);
  });

  it('a stream cut at a chunk boundary yields only the whole chunks before it, then fails', async () => {
    const d = new AgeDecryptor({ identities: [keys[0]!.secret] });
    const out = await d.push(cipher.subarray(0, headerLength + 16 + 2 * sealed));
    expect(Buffer.concat(out).equals(plain.subarray(0, CHUNK_SIZE))).toBe(true);
    await expect(d.finish()).rejects.toThrow(/cut short/);
  });

  it.each([
    ['in the header', () => 30],
    ['in the header MAC', () => headerLength - 5],
    ['in the nonce', () => headerLength + 3],
    ['in a chunk', () => headerLength + 16 + sealed + 500],
    ['in the last tag', () => cipher.length - 2],
  ])('a flipped byte %s fails with a DecryptError', async (_what, at) => {
    const bad = Buffer.from(cipher);
    bad[at()]! ^= 0x01;
    await expect(decrypt(bad)).rejects.toThrow(DecryptError);
  });

  it('two chunks swapped fail (the counter is in the nonce)', async () => {
    const p = headerLength + 16;
    const bad = Buffer.concat([cipher.subarray(0, p), cipher.subarray(p + sealed, p + 2 * sealed), cipher.subarray(p, p + sealed), cipher.subarray(p + 2 * sealed)]);
    await expect(decrypt(bad)).rejects.toThrow(/out of order|damaged/);
  });

  it('a wrong identity fails naming the recipients the manifest records', async () => {
    const err = await decrypt(cipher, [keys[1]!.secret]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecryptError);
    expect((err as DecryptError).reason).toBe('no-identity');
    expect((err as Error).message).toContain(keys[0]!.recipient);
    expect((err as Error).message).not.toContain(keys[1]!.secret);
  });

  it('a stream that is not age fails saying so', async () => {
    await expect(decrypt(Buffer.from('hello world, not age at all\n'))).rejects.toThrow(/not an age-encrypted stream/);
  });
});

describe('the Transforms and the source wrapper', () => {
  it('encryptTransform piped into decryptTransform gives the input back; age -d agrees', async () => {
    const plain = randomBytes(700_000);
    const parts: Buffer[] = [];
    await pipeline(Readable.from([plain.subarray(0, 123), plain.subarray(123)]), encryptTransform(await AgeEncryptor.create([keys[0]!.recipient])), new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }));
    const cipher = Buffer.concat(parts);
    expect(ageDecrypt(cipher).equals(plain)).toBe(true);
    const back: Buffer[] = [];
    await pipeline(Readable.from([cipher]), decryptTransform({ identities: [keys[0]!.secret] }), new Writable({ write(c: Buffer, _e, cb) { back.push(c); cb(); } }));
    expect(Buffer.concat(back).equals(plain)).toBe(true);
  });

  it('decryptTransform ends in an error for a cut stream', async () => {
    const cipher = await encrypt(randomBytes(300_000));
    await expect(pipeline(Readable.from([cipher.subarray(0, cipher.length - 10)]), decryptTransform({ identities: [keys[0]!.secret] }), new Writable({ write(_c, _e, cb) { cb(); } }))).rejects.toThrow(DecryptError);
  });

  it.each([1, 100_000, 1 << 20, 3 << 20])('encryptSource of an iterable in pieces of %i bytes gives one age stream that age -d decrypts', async (piece) => {
    const plain = randomBytes(piece === 1 ? 70_000 : 3 * 1024 * 1024 + 4321);
    const src = await encryptSource((async function* () { for (let at = 0; at < plain.length; at += piece) yield plain.subarray(at, at + piece); })(), [keys[0]!.recipient]);
    const parts: Uint8Array[] = [];
    for await (const c of src.source) parts.push(Buffer.from(c));
    expect(src.plaintextBytes()).toBe(plain.length);
    expect(ageDecrypt(Buffer.concat(parts)).equals(plain)).toBe(true);
  });

  it('encryptSource reads a file descriptor and counts the plaintext', async () => {
    const plain = randomBytes(2_500_000);
    const file = join(dir, 'plain.bin');
    writeFileSync(file, plain);
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(file, 'r');
    const src = await encryptSource({ fd }, [keys[0]!.recipient]);
    const parts: Uint8Array[] = [];
    for await (const c of src.source) parts.push(Buffer.from(c)); // a piece is valid until the next is asked for
    closeSync(fd);
    expect(src.plaintextBytes()).toBe(plain.length);
    expect(ageDecrypt(Buffer.concat(parts)).equals(plain)).toBe(true);
  });
});

describe('keys', () => {
  it('reads recipients from flags and files (comments, blank lines, duplicates) and identities from age-keygen files', async () => {
    const rfile = join(dir, 'recipients.txt');
    writeFileSync(rfile, `# backup keys\n\n${keys[1]!.recipient}\n${keys[0]!.recipient}\n`);
    expect(loadRecipients([keys[0]!.recipient], [rfile])).toEqual([keys[0]!.recipient, keys[1]!.recipient]);
    const ids = await loadIdentities([keys[0]!.file]);
    expect(ids.map((i) => i.recipient)).toEqual([keys[0]!.recipient]);
  });

  it('refuses a bad recipient, a secret key given as a recipient, and an identity file without a key, without showing the secret', async () => {
    expect(() => loadRecipients(['age1nope'], [])).toThrow(/--encrypt-to "age1nope" is not an age X25519 recipient/);
    const flipped = keys[0]!.recipient.slice(0, -1) + (keys[0]!.recipient.endsWith('q') ? 'p' : 'q');
    expect(() => loadRecipients([flipped], [])).toThrow(/not an age X25519 recipient/);
    let msg = '';
    try {
      loadRecipients([keys[0]!.secret], []);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/is a secret key \(an identity\), not a recipient/);
    expect(msg).not.toContain(keys[0]!.secret);
    const rfile = join(dir, 'only-recipients.txt');
    writeFileSync(rfile, `${keys[0]!.recipient}\n`);
    await expect(loadIdentities([rfile])).rejects.toThrow(/holds no age identity/);
  });
});

describe('AgeDecryptor.seek', () => {
  it('decrypts from any plaintext offset when given the first bytes and then the ciphertext from the chunk it names; a stream cut after the seek still fails', async () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 12345);
    const cipher = await encrypt(plain);
    for (const offset of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 7, plain.length - 1]) {
      const d = new AgeDecryptor({ identities: [keys[0]!.secret], what: 'test' });
      const { cipherOffset, skip } = await d.seek(cipher.subarray(0, HEAD_BYTES), offset);
      const out = [...(await d.push(cipher.subarray(cipherOffset))), ...(await d.finish())];
      expect(Buffer.concat(out).subarray(skip).equals(plain.subarray(offset)), `offset ${offset}`).toBe(true);
    }
    const d = new AgeDecryptor({ identities: [keys[0]!.secret], what: 'test' });
    const { cipherOffset } = await d.seek(cipher.subarray(0, HEAD_BYTES), CHUNK_SIZE + 5);
    await d.push(cipher.subarray(cipherOffset, cipherOffset + CHUNK_SIZE + 16));
    await expect(d.finish()).rejects.toThrow(/chunk 1 does not authenticate as the last chunk/);
  });
});
