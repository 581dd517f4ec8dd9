import { read } from 'node:fs';
import type { ByteSource } from '../upload/stream-uploader.js';
import { AgeEncryptor, CHUNK_SIZE, type EncryptionRecord } from './age-stream.js';

const READ_SIZE = 1024 * 1024;

export interface EncryptedSource {
  /** The ciphertext, for the uploader: its CRC32C, ETag and size are the object's. Each piece is valid until the next is asked for. */
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
 * (body and tag), joined here so the uploader handles one piece per megabyte, not 32. The pieces
 * are views of one reused buffer, as a fresh megabyte per piece costs the garbage collector about
 * as much as the encryption: each piece is valid until the next is asked for, which is how the
 * uploader reads (it copies each into its part buffers before it asks for more).
 */
async function* ciphertext(source: ByteSource, enc: AgeEncryptor): AsyncGenerator<Uint8Array> {
  const out = Buffer.allocUnsafe(READ_SIZE + CHUNK_SIZE + 1024);
  let filled = 0;
  // Each sealed chunk's buffers go into `out`; a piece goes out as soon as it reaches READ_SIZE, so
  // `out` never overflows, whatever the size of one input chunk.
  function* pieces(parts: readonly Buffer[]): Generator<Buffer> {
    for (const b of parts) {
      b.copy(out, filled);
      filled += b.length;
      if (filled >= READ_SIZE) {
        const piece = out.subarray(0, filled);
        filled = 0;
        yield piece;
      }
    }
  }
  // Test for the iterator, not for `fd`: Node's streams (process.stdin) have an `fd` property too.
  if (Symbol.asyncIterator in source) {
    for await (const chunk of source) yield* pieces(enc.push(chunk));
  } else {
    // The encryptor copies what it is given, so one read buffer serves the whole stream.
    const buf = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const n = await new Promise<number>((resolve, reject) => read(source.fd, buf, 0, READ_SIZE, null, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (n === 0) break;
      yield* pieces(enc.push(buf.subarray(0, n)));
    }
  }
  yield* pieces(enc.finish());
  if (filled > 0) yield out.subarray(0, filled);
}
