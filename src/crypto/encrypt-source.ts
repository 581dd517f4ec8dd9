import { Duplex } from 'node:stream';
import { CHUNK_SIZE, sealedSize } from './age-chunks.js';
import { AgeEncryptor, type EncryptionRecord } from './age-stream.js';
import { fdReader, isByteReader, type ByteReader } from '../upload/byte-reader.js';
import type { ByteSource } from '../upload/stream-uploader.js';

/**
 * Plaintext per sealed run: 8 chunks (512 KiB). Larger blocks were no faster in a 1 GiB run and
 * cost more memory (the ring is DEPTH blocks of plaintext and of ciphertext: 4 MiB).
 */
export const BLOCK_SIZE = 8 * CHUNK_SIZE;
/** Blocks in the ring: one the uploader holds, the others reading or sealing on the thread pool. */
const DEPTH = 4;

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
 * A Duplex that encrypts what goes through it for `encryptor`'s recipients (for library users; the
 * commands use encryptSource). Its pieces are copies: a readable side may hold on to them.
 */
export function encryptTransform(encryptor: AgeEncryptor): Duplex {
  return Duplex.from(async function* (input: AsyncIterable<Uint8Array>) {
    for await (const piece of ciphertext(input, encryptor)) yield Buffer.from(piece);
  });
}

/** One block's buffers: the plaintext read into it, and its ciphertext sealed on the thread pool. */
interface Slot {
  /** BLOCK_SIZE + 1: a file descriptor's block reads one byte past the block to know whether it is the last. */
  plain: Buffer;
  out: Buffer;
}

/**
 * The ciphertext, pipelined: while the uploader copies one block's ciphertext, the next blocks are
 * read (in the background, one after another) and sealed on the thread pool (several at once, on
 * several cores: their chunk counters are known when they are read). The buffers are a ring of
 * DEPTH slots reused for the whole stream, as fresh megabytes cost the garbage collector about as
 * much as the cipher; a slot is refilled only once the uploader asked for the piece after its own,
 * so each piece is valid until the next is asked for, which is how the uploader reads (it copies
 * each into its part buffers first).
 */
async function* ciphertext(source: ByteSource, enc: AgeEncryptor): AsyncGenerator<Uint8Array> {
  const reader = blockReader(source);
  const free: Slot[] = Array.from({ length: DEPTH }, () => ({ plain: Buffer.allocUnsafe(BLOCK_SIZE + 1), out: Buffer.allocUnsafe(sealedSize(BLOCK_SIZE, false)) }));
  const sealing: Array<{ slot: Slot; sealed: Promise<number> }> = [];
  let ended = false;
  let stopped = false;
  /** The block being read; a failed read stays here (and stops reading) until the loop below awaits it. */
  let reading: Promise<void> | undefined;
  const readAhead = (): void => {
    if (reading || ended || stopped || free.length === 0) return;
    const slot = free.pop()!;
    reading = reader.fill(slot.plain).then(({ length, more }) => {
      if (stopped) return;
      const sealed = enc.seal(slot.plain.subarray(0, length), slot.out, !more);
      // Awaited in order below; if the stream stops first, its outcome no longer matters.
      sealed.catch(() => undefined);
      sealing.push({ slot, sealed });
      ended = !more;
      reading = undefined;
      readAhead();
    });
    reading.catch(() => undefined);
  };
  try {
    yield enc.prefix;
    for (;;) {
      readAhead();
      const head = sealing.shift();
      if (head === undefined) {
        // Nothing sealed or sealing: either the input ended, or the next block is still being read.
        if (reading === undefined) return;
        await reading;
        continue;
      }
      const bytes = await head.sealed;
      yield head.slot.out.subarray(0, bytes);
      free.push(head.slot);
    }
  } finally {
    // Stopped early (a failed read, an aborted upload): runs still sealing finish on their own,
    // into buffers nobody reads. A read still pending is not waited for (a producer may hold its
    // end open and silent): the source is asked to end without waiting for it.
    stopped = true;
    enc.dispose();
    const closing = reader.close().catch(() => undefined);
    if (reading === undefined) await closing;
  }
}

interface BlockReader {
  /** Fills `plain` with up to BLOCK_SIZE bytes; `more` is whether the stream goes on past them (then the block is full). */
  fill(plain: Buffer): Promise<{ length: number; more: boolean }>;
  /** Ends the source's iteration if it was stopped early. */
  close(): Promise<void>;
}

function blockReader(source: ByteSource): BlockReader {
  if (isByteReader(source)) return directReader(source);
  // Test for the iterator, not for `fd`: Node's streams (process.stdin) have an `fd` property too.
  return Symbol.asyncIterator in source ? iterableReader(source) : directReader(fdReader(source.fd));
}

/**
 * Reads straight into the blocks, one byte past each block so its last chunk is known to be last or
 * not. Each block is read to its end before the next (what a ByteReader asks of its caller).
 */
function directReader(reader: ByteReader): BlockReader {
  let carried: number | undefined;
  const readInto = (buf: Buffer, at: number) => reader.readInto(buf.subarray(at));
  return {
    async fill(plain) {
      let filled = 0;
      if (carried !== undefined) plain[filled++] = carried;
      carried = undefined;
      while (filled <= BLOCK_SIZE) {
        const n = await readInto(plain, filled);
        if (n === 0) return { length: filled, more: false };
        filled += n;
      }
      carried = plain[BLOCK_SIZE];
      return { length: BLOCK_SIZE, more: true };
    },
    close: async () => undefined,
  };
}

/** Copies an iterable's chunks (of any size) into the blocks. */
function iterableReader(source: AsyncIterable<Uint8Array>): BlockReader {
  const it = source[Symbol.asyncIterator]();
  let chunk: Uint8Array = new Uint8Array(0);
  let at = 0;
  let finished = false;
  return {
    async fill(plain) {
      let filled = 0;
      for (;;) {
        if (at === chunk.length) {
          const next = await it.next();
          if (next.done) {
            finished = true;
            return { length: filled, more: false };
          }
          chunk = next.value;
          at = 0;
          continue;
        }
        if (filled === BLOCK_SIZE) return { length: filled, more: true };
        const n = Math.min(BLOCK_SIZE - filled, chunk.length - at);
        plain.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
      }
    },
    async close() {
      if (!finished) await it.return?.();
    },
  };
}
