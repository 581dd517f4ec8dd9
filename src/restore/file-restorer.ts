import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Crc32c } from '../checksum/crc32c.js';
import { DecryptError, type AgeDecryptor } from '../crypto/age-stream.js';
import type { ReadContext } from '../download/object-reader.js';
import { VerificationError, describeError } from '../errors.js';
import { httpStatus } from '../s3/s3-errors.js';
import { ObjectGoneError, readRanged, type RangedReadOptions } from '../verify/ranged-reader.js';
import type { RestoreItem } from './restore-item.js';

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
  // Each range lands in one of the reader's reused buffers (over plain HTTP straight from the
  // socket, socket-http.ts; no socket chunk held until its turn, the garbage collector's largest cost),
  // and is written whole, at its offset, before the next is asked for, while the next ranges arrive.
  let offset = 0;
  const writeOut = async (out: Buffer[]) => {
    const batch = out.length === 1 ? out[0]! : Buffer.concat(out);
    for (let at = 0; at < batch.length; ) {
      const { bytesWritten } = await fh.write(batch, at, batch.length - at, offset + at);
      at += bytesWritten;
      written += bytesWritten;
    }
    offset += batch.length;
  };
  let stored = 0;
  try {
    const whole = new Crc32c();
    const sha = item.sha256 ? createHash('sha256') : undefined;
    for (const piece of item.pieces) {
      const crc = new Crc32c();
      const ref = { bucket, key: piece.key, size: piece.size, ...(piece.etag ? { etag: piece.etag } : {}) };
      for await (const chunk of readRanged(ctx, ref, read)) {
        crc.update(chunk);
        whole.update(chunk);
        sha?.update(chunk);
        stored += chunk.length;
        // Decrypted in place or not, what is written may be `chunk` itself: written before the next is asked for.
        await writeOut(decrypt ? await decrypt.push(chunk) : [chunk]);
        onBytes?.(chunk.length);
      }
      if (item.pieces.length > 1 && piece.crc32c && crc.hex() !== piece.crc32c) {
        throw new VerificationError(`${piece.key}: CRC32C ${crc.hex()}, the manifest says ${piece.crc32c}`);
      }
    }
    if (decrypt) await writeOut(await decrypt.finish());
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
