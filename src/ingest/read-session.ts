import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { Crc32c } from '../checksum/crc32c.js';
import { HEAD_BYTES, type AgeDecryptor } from '../crypto/age-stream.js';
import { writeOut, type ReadContext } from '../download/object-reader.js';
import { ReadAhead } from '../download/read-ahead.js';
import { VerificationError, describeError } from '../errors.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { MemoryBudget } from '../upload/memory-budget.js';
import type { Limiter } from '../util/limiter.js';
import type { RestoreItem } from '../restore/restore-item.js';
import { readRanged } from '../verify/ranged-reader.js';
import { encodeFrame, type Message } from '../wire/frame-codec.js';
import { answerAndClose } from './answer-and-close.js';
import type { BackupTree } from './backup-tree.js';
import type { UncheckedReads } from './unchecked-reads.js';

/**
 * Ranges in flight (or with the program) per read, at most: one in a buffer of the read's own, the
 * others in slabs of the run's memory budget while it has slabs to spare (read-ahead.ts).
 */
export const READ_AHEAD_RANGES = 8;

export interface ReadDeps {
  /** The files READ_OPEN may read: a backup's (run --from), or one file stored earlier in the run (read-back.ts). */
  tree: Pick<BackupTree, 'bucket' | 'get'>;
  read: ReadContext;
  /** Ranged GETs in flight across every read of the run. */
  requests: Limiter;
  /** The run's one memory budget: each read's read-ahead borrows its slabs (ranges are one slab each). */
  memory: MemoryBudget;
  signal: AbortSignal;
  /** A file whose bytes did not check out, or could not be fetched: the run fails naming it. */
  onFailure: (path: string, key: string, error: unknown) => void;
  /** An encrypted file's decryptor (one per read), from the run's --identity keys. */
  decryptor?: (item: RestoreItem) => AgeDecryptor | undefined;
  /** Told of each file opened and of each read whole and checked (or failed): what a failed command leaves unchecked. */
  unchecked?: UncheckedReads;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The size the program sees (STAT, fstat, SEEK_END): an encrypted file's plaintext size. */
export function shownSize(item: RestoreItem): number {
  return item.encryption?.plaintextSize ?? item.size;
}

/**
 * One READ_OPEN (wire.def): answers REPLY, stops reading the socket so the shim's canary byte stays in
 * the kernel's receive queue, then streams the file's bytes from `offset` with ranged GETs pinned to
 * the recorded ETags (memory: one slab-sized buffer per read, read-ahead from the run's budget, and the
 * socket's buffer: the program's reads are the backpressure); an encrypted file is decrypted on the fly
 * (fileBytes). A read from byte 0 is checked against the manifest's CRC32C (and each chain object's)
 * before its last chunk goes out; on a mismatch or a failed GET the socket is closed
 * with the canary unread, so the program's next read fails (ECONNRESET, EIO from the shim's read())
 * instead of seeing a clean end of file. After a clean end the canary is read and the connection
 * waits for the program's close.
 */
export async function serveRead(socket: Socket, input: AsyncIterator<Buffer>, open: Message<'READ_OPEN'>, deps: ReadDeps): Promise<void> {
  const { tree, read } = deps;
  let path: string | undefined;
  try {
    path = utf8.decode(open.path);
  } catch {
    path = undefined;
  }
  const item = path === undefined ? undefined : tree.get(path);
  if (!item) {
    answerAndClose(socket, encodeFrame('REPLY', { err: constants.errno.ENOENT, message: 'not a file of the backup' }));
    return;
  }
  const offset = Number(open.offset);
  if (!stopReading(socket)) {
    // Without the canary left unread a failed check would look like a clean (short) end of file.
    answerAndClose(socket, encodeFrame('REPLY', { err: constants.errno.EIO, message: 'this Node.js cannot stop reading a socket' }));
    return;
  }
  socket.write(encodeFrame('REPLY', { err: 0, message: '' }));
  deps.unchecked?.opened(item);
  read.log.debug(`${item.path}: read by pid ${open.pid} from byte ${offset}`);
  let sent = 0;
  try {
    // Each chunk is a reused buffer, valid until the next is asked for: written out (to the kernel) first.
    // fileBytes checks the file before it hands on its last chunk.
    for await (const chunk of fileBytes(item, offset, deps)) {
      await writeOut(socket, chunk, { flushed: true });
      sent += chunk.length;
    }
  } catch (err) {
    if (isReaderGone(err)) {
      read.log.debug(`${item.path}: the program stopped reading after ${sent} bytes`);
      socket.destroy();
      return;
    }
    read.log.warn(`${item.path} (${formatS3Url({ bucket: tree.bucket, key: item.key })}): ${describeError(err)}; the program's read fails`);
    deps.onFailure(item.path, item.key, err);
    deps.unchecked?.settle(item.path);
    // Closed with the canary unread: the reader gets ECONNRESET after the bytes sent so far.
    socket.destroy();
    return;
  }
  read.log.debug(`${item.path}: sent ${sent} bytes`);
  if (offset === 0) deps.unchecked?.settle(item.path); // read whole from byte 0: fileBytes checked it
  socket.end();
  // Read the canary and wait for the program's close (EOF), so our close is a clean one.
  for (;;) {
    const next = await input.next().catch(() => ({ done: true as const, value: undefined }));
    if (next.done) break;
  }
  socket.destroy();
}

/**
 * The bytes of the file from `offset` as the program sees them: the stored bytes, or for an encrypted
 * file the plaintext, decrypted on the fly (only authenticated bytes come out). A plaintext offset maps
 * to the sealed chunk that holds it (age: 64 KiB + 16-byte tag each, after the header and nonce, read
 * first with a GET of their own). The last chunk comes only once every check passed. Each chunk is
 * valid only until the next is asked for (the stored bytes are in reused buffers).
 */
export async function* fileBytes(item: RestoreItem, offset: number, deps: ReadDeps): AsyncGenerator<Buffer> {
  const decrypt = deps.decryptor?.(item);
  if (!decrypt || !item.encryption) {
    yield* storedBytes(item, offset, deps);
    return;
  }
  if (offset >= item.encryption.plaintextSize) return;
  let from = 0;
  let skip = 0;
  if (offset > 0) {
    const head = Buffer.concat(await collect(storedBytes(item, 0, deps, Math.min(item.size, HEAD_BYTES))));
    ({ cipherOffset: from, skip } = await decrypt.seek(head, offset));
  }
  const emit = function* (plain: readonly Buffer[]): Generator<Buffer> {
    for (let b of plain) {
      if (skip > 0) {
        const n = Math.min(skip, b.length);
        skip -= n;
        b = b.subarray(n);
      }
      if (b.length > 0) yield b;
    }
  };
  // push keeps nothing of the chunk once it settles; the plaintext it gives back is its own.
  for await (const chunk of storedBytes(item, from, deps)) yield* emit(await decrypt.push(chunk));
  const last = await decrypt.finish();
  if (offset === 0 && decrypt.plaintextCrc32c !== item.encryption.plaintextCrc32c) {
    throw new VerificationError(`${formatS3Url({ bucket: deps.tree.bucket, key: item.key })}: plaintext CRC32C ${decrypt.plaintextCrc32c}, the manifest says ${item.encryption.plaintextCrc32c}`);
  }
  yield* emit(last);
}

/**
 * The stored bytes of the file from `offset` (up to `end`, default its size), read with ranged GETs
 * pinned to the recorded ETags, one budget slab each (ReadAhead: up to READ_AHEAD_RANGES in flight).
 * Read whole from byte 0, they are checked against the manifest's CRC32C (each chain object's when
 * its last byte is in, the whole's) before the chunk that completes them is handed on: a mismatch
 * throws instead. Each chunk is valid only until the next is asked for.
 */
async function* storedBytes(item: RestoreItem, offset: number, deps: ReadDeps, end = item.size): AsyncGenerator<Buffer> {
  const { tree, read } = deps;
  const whole = offset === 0 && end === item.size ? new Crc32c() : undefined;
  let skip = offset;
  let left = end - offset;
  for (const piece of item.pieces) {
    if (left <= 0) break;
    if (skip >= piece.size && piece.size > 0) {
      skip -= piece.size;
      continue;
    }
    const crc = whole && item.pieces.length > 1 && piece.crc32c ? new Crc32c() : undefined;
    // A read that stops before the piece's end asks for no byte past it (the size caps the ranges).
    const size = Math.min(piece.size, skip + left);
    let pieceLeft = size - skip;
    const ref = { bucket: tree.bucket, key: piece.key, size, ...(piece.etag ? { etag: piece.etag } : {}) };
    const buffers = new ReadAhead(deps.memory, pieceLeft, READ_AHEAD_RANGES);
    const ranges = { chunkSize: buffers.rangeSize, window: READ_AHEAD_RANGES, buffers, requests: deps.requests, start: skip, signal: deps.signal };
    for await (const chunk of readRanged(read, ref, ranges)) {
      crc?.update(chunk);
      whole?.update(chunk);
      left -= chunk.length;
      pieceLeft -= chunk.length;
      if (crc && pieceLeft === 0 && crc.hex() !== piece.crc32c) {
        throw new VerificationError(`${formatS3Url(ref)}: CRC32C ${crc.hex()}, the manifest says ${piece.crc32c}`);
      }
      if (whole && left === 0 && item.crc32c && whole.hex() !== item.crc32c) {
        throw new VerificationError(`${formatS3Url({ bucket: tree.bucket, key: item.key })}: CRC32C ${whole.hex()}, the manifest says ${item.crc32c}`);
      }
      yield chunk;
    }
    skip = 0;
  }
  if (whole && item.size === 0 && item.crc32c && whole.hex() !== item.crc32c) {
    throw new VerificationError(`${formatS3Url({ bucket: tree.bucket, key: item.key })}: CRC32C ${whole.hex()}, the manifest says ${item.crc32c} (for no bytes)`);
  }
}

/** The chunks copied (each is valid only until the next is asked for). */
async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(Buffer.from(c));
  return out;
}

/** The program closed its descriptor before the end (EPIPE/ECONNRESET on our writes): not a failure. */
function isReaderGone(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } } | undefined)?.cause?.code ?? (err as { code?: string } | undefined)?.code;
  return code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

/**
 * Stops libuv reading the socket (Node has no public call for a server's socket: pause() only stops
 * the 'data' events, and the stream reads on up to its high-water mark). Returns false if the handle
 * has no readStop.
 */
function stopReading(socket: Socket): boolean {
  socket.pause();
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle;
  if (typeof handle?.readStop !== 'function') return false;
  handle.reading = false;
  return handle.readStop() === 0;
}
