import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Crc32c } from '../checksum/crc32c.js';
import { DecryptError, type AgeDecryptor } from '../crypto/age-stream.js';
import type { ReadContext } from '../download/object-reader.js';
import { VerificationError, describeError } from '../errors.js';
import { httpStatus } from '../s3/s3-errors.js';
import { DEFAULT_CHUNK_SIZE, ObjectGoneError, readRanged, type RangedReadOptions } from '../verify/ranged-reader.js';
import type { RestoreItem } from './restore-item.js';

const WRITE_BATCH = 1024 * 1024;
const WRITES_IN_FLIGHT = 3;

export type RestoreStatus = 'ok' | 'missing' | 'checksum mismatch' | 'changed' | 'error';

export interface RestoredFile {
  path: string;
  key: string;
  status: RestoreStatus;
  bytes: number;
  detail?: string;
}

/** `.NAME.diskless-restore-PID-RANDOM` beside the final name: same directory, so the rename is atomic. */
export function tempNameFor(dest: string): string {
  return join(dirname(dest), `.${basename(dest)}.diskless-restore-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** True for the temporary names restore writes (a killed restore may leave them; a rerun with --overwrite ignores them). */
export function isRestoreTemp(name: string): boolean {
  return /^\..*\.diskless-restore-\d+-[0-9a-f]{8}$/.test(name);
}

/**
 * Writes one item to `dest`: under a temporary name beside it, hashing (CRC32C, and SHA-256
 * when recorded) while writing, then fsync (unless `fsync` is false) and rename when every checksum matches. On any
 * failure the temporary file is removed, so nothing half-written ever has the final name.
 * `onBytes` reports progress.
 */
export async function restoreFile(
  ctx: ReadContext,
  bucket: string,
  item: RestoreItem,
  dest: string,
  read: RangedReadOptions,
  onBytes?: (n: number) => void,
  fsync = true,
  decrypt?: AgeDecryptor,
): Promise<RestoredFile> {
  const base = { path: item.path, key: item.key };
  await mkdir(dirname(dest), { recursive: true });
  const temp = tempNameFor(dest);
  const fh = await open(temp, 'wx');
  let written = 0;
  let closed = false;
  // Chunks as the reader yields them (socket-sized or whole ranges), written in batches of about
  // 1 MiB at their offsets, up to WRITES_IN_FLIGHT at once, so reading and hashing go on while the
  // disk writes. A file of more than one range is read into the reader's reused range buffers
  // (`reuse`: no socket chunk held until its turn, the garbage collector's largest cost): each
  // range is then written whole before the next is asked for, while the next ranges arrive.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = 0;
  const inFlight: Array<Promise<void>> = [];
  const writeAt = async (batch: Buffer, position: number) => {
    for (let at = 0; at < batch.length; ) {
      const { bytesWritten } = await fh.write(batch, at, batch.length - at, position + at);
      at += bytesWritten;
      written += bytesWritten;
    }
  };
  const flush = async (drain: boolean) => {
    if (pendingBytes > 0) {
      const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const p = writeAt(batch, offset);
      p.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile
      inFlight.push(p);
      offset += pendingBytes;
      pending = [];
      pendingBytes = 0;
    }
    while (inFlight.length > (drain ? 0 : WRITES_IN_FLIGHT - 1)) await inFlight.shift();
  };
  let stored = 0;
  const take = (out: Buffer[]) => {
    for (const o of out) {
      pending.push(o);
      pendingBytes += o.length;
    }
  };
  try {
    const whole = new Crc32c();
    const sha = item.sha256 ? createHash('sha256') : undefined;
    for (const piece of item.pieces) {
      const crc = new Crc32c();
      const ref = { bucket, key: piece.key, size: piece.size, ...(piece.etag ? { etag: piece.etag } : {}) };
      const reuse = piece.size > (read.chunkSize ?? DEFAULT_CHUNK_SIZE);
      for await (const chunk of readRanged(ctx, ref, { ...read, reuse })) {
        crc.update(chunk);
        whole.update(chunk);
        sha?.update(chunk);
        stored += chunk.length;
        // Decrypted in place or not, what is written may be `chunk` itself: with `reuse`, written before the next.
        take(decrypt ? await decrypt.push(chunk) : [chunk]);
        if (reuse) await flush(true);
        else if (pendingBytes >= WRITE_BATCH) await flush(false);
        onBytes?.(chunk.length);
      }
      await flush(true);
      if (item.pieces.length > 1 && piece.crc32c && crc.hex() !== piece.crc32c) {
        throw new VerificationError(`${piece.key}: CRC32C ${crc.hex()}, the manifest says ${piece.crc32c}`);
      }
    }
    if (decrypt) {
      take(await decrypt.finish());
      await flush(true);
    }
    if (stored !== item.size) throw new VerificationError(`read ${stored} bytes, the manifest says ${item.size}`);
    const plain = item.encryption;
    if (decrypt && plain && (written !== plain.plaintextSize || decrypt.plaintextCrc32c !== plain.plaintextCrc32c)) {
      throw new VerificationError(`decrypted ${written} bytes with CRC32C ${decrypt.plaintextCrc32c}, the manifest says ${plain.plaintextSize} bytes, CRC32C ${plain.plaintextCrc32c}`);
    }
    if (item.crc32c && whole.hex() !== item.crc32c) throw new VerificationError(`CRC32C ${whole.hex()}, the manifest says ${item.crc32c}`);
    const digest = sha?.digest('hex');
    if (digest && digest !== item.sha256) throw new VerificationError(`SHA-256 ${digest}, the manifest says ${item.sha256}`);
    if (fsync) await fh.sync();
    await fh.close();
    closed = true;
    await rename(temp, dest);
    return { ...base, status: 'ok', bytes: written };
  } catch (err) {
    await Promise.allSettled(inFlight);
    if (!closed) await fh.close().catch(() => undefined);
    await rm(temp, { force: true });
    if (read.signal?.aborted) throw err;
    return { ...base, bytes: written, ...classify(err) };
  }
}

function classify(err: unknown): { status: RestoreStatus; detail: string } {
  const status = httpStatus(err) ?? httpStatus((err as { cause?: unknown } | undefined)?.cause);
  if (status === 404 || err instanceof ObjectGoneError) return { status: 'missing', detail: 'the object is missing' };
  if (status === 412) return { status: 'changed', detail: 'the object was replaced (its ETag is not the recorded one)' };
  if (err instanceof VerificationError) return { status: 'checksum mismatch', detail: err.message };
  // Bytes that do not authenticate are damaged bytes, as a checksum mismatch is.
  if (err instanceof DecryptError && err.reason === 'damaged') return { status: 'checksum mismatch', detail: err.message };
  return { status: 'error', detail: describeError(err) };
}
