import { read } from 'node:fs';
import type { ByteSource } from '../upload/stream-uploader.js';
import { AgeEncryptor, type EncryptionRecord } from './age-stream.js';

const READ_SIZE = 1024 * 1024;

export interface EncryptedSource {
  /** The ciphertext, for the uploader: its CRC32C, ETag and size are the object's. */
  source: AsyncIterable<Uint8Array>;
  /** Plaintext bytes read so far (what --expected-size and the empty-input check count). */
  plaintextBytes(): number;
  /** What the manifest records; complete once `source` ended. */
  record(): EncryptionRecord;
}

/**
 * `source` encrypted for `recipients`, one age stream: the encryption sits before the uploader,
 * so everything the uploader checks and records is of the ciphertext.
 */
export async function encryptSource(source: ByteSource, recipients: readonly string[]): Promise<EncryptedSource> {
  const enc = await AgeEncryptor.create(recipients);
  return { source: ciphertext(source, enc), plaintextBytes: () => enc.plaintextBytes, record: () => enc.record() };
}

/**
 * The ciphertext in pieces of about READ_SIZE: the encryptor gives two buffers per 64 KiB chunk
 * (body and tag), joined here so the uploader handles one piece per megabyte, not 32.
 */
async function* ciphertext(source: ByteSource, enc: AgeEncryptor): AsyncGenerator<Uint8Array> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  const take = (out: Buffer[]): Buffer | undefined => {
    for (const b of out) {
      held.push(b);
      heldBytes += b.length;
    }
    if (heldBytes < READ_SIZE) return undefined;
    const joined = Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    return joined;
  };
  // Test for the iterator, not for `fd`: Node's streams (process.stdin) have an `fd` property too.
  if (Symbol.asyncIterator in source) {
    for await (const chunk of source) {
      const piece = take(enc.push(chunk));
      if (piece) yield piece;
    }
  } else {
    // The encryptor copies what it is given, so one read buffer serves the whole stream.
    const buf = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const n = await new Promise<number>((resolve, reject) => read(source.fd, buf, 0, READ_SIZE, null, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (n === 0) break;
      const piece = take(enc.push(buf.subarray(0, n)));
      if (piece) yield piece;
    }
  }
  const last = take(enc.finish());
  if (last) yield last;
  if (heldBytes > 0) yield Buffer.concat(held, heldBytes);
}
