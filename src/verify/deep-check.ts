import { posix } from 'node:path';
import { Crc32c } from '../checksum/crc32c.js';
import { OffThreadSha256 } from '../checksum/sha256-worker.js';
import type { FileCheck } from '../catalog/file-check.js';
import type { ReadContext } from '../download/object-reader.js';
import type { ManifestFile } from '../manifest/manifest.js';
import { httpStatus } from '../s3/s3-errors.js';
import { DecryptError, type AgeDecryptor } from '../crypto/age-stream.js';
import { contentCheck } from './content-check.js';
import { ObjectGoneError, readRanged, type RangedReadOptions } from './ranged-reader.js';

/** Files a dump layout check reads (dump-layout.ts), kept in memory when at most this big. */
const LAYOUT_FILES = new Set(['toc.dat', 'metadata']);
const LAYOUT_FILE_MAX = 16 * 1024 * 1024;

export interface DeepCheck extends FileCheck {
  /** The content format checked (`tar`, `gzip+tar`…), when one was recognised. */
  format?: string;
  note?: string;
  /** toc.dat and mydumper's metadata, for the layout check of their directory. */
  captured?: Buffer;
}

/**
 * Reads every object of a file back (parallel ranged GETs, memory bounded by the window),
 * recomputes its CRC32C (each chain object's too) and SHA-256 when recorded, and checks its
 * content by format. Checksums decide first: bytes that are not the ones written make a format
 * check meaningless.
 */
export async function deepCheckFile(ctx: ReadContext, bucket: string, f: ManifestFile, options: RangedReadOptions, decrypt?: AgeDecryptor): Promise<DeepCheck> {
  const base = { path: f.path, key: f.key };
  const pieces = f.chain ?? [{ key: f.key, size: f.size, etag: f.etag, crc32c: f.crc32c }];
  const whole = new Crc32c();
  const sha = f.sha256 ? new OffThreadSha256() : undefined;
  // An encrypted file without an identity: its ciphertext's checksums only (the content is unreadable).
  const encrypted = f.encryption !== undefined;
  const readable = !encrypted || decrypt !== undefined;
  const layout = readable && LAYOUT_FILES.has(posix.basename(f.path)) && f.size <= LAYOUT_FILE_MAX;
  // A directory-format toc.dat cannot be read from stdin; its directory's check reads it.
  const content = contentCheck({ skip: (head) => layout && head.toString('latin1', 0, 5) === 'PGDMP' });
  const captured: Buffer[] = [];
  // A range is valid only until the next is asked for (readRanged reuses its buffers): what is kept past that is a copy.
  const inspect = async (chunks: readonly Uint8Array[]) => {
    for (const c of chunks) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.length);
      if (layout) captured.push(Buffer.from(b));
      await content.write(b); // done with `b` once it resolves
    }
  };
  try {
    for (const piece of pieces) {
      const crc = new Crc32c();
      for await (const chunk of readRanged(ctx, { bucket, key: piece.key, size: piece.size, ...(piece.etag ? { etag: piece.etag } : {}) }, options)) {
        crc.update(chunk);
        whole.update(chunk);
        await sha?.update(chunk);
        if (!encrypted) await inspect([chunk]);
        else if (decrypt) await inspect(await decrypt.push(chunk));
      }
      if (f.chain && piece.crc32c && crc.hex() !== piece.crc32c) {
        await content.end();
        await sha?.close();
        return { ...base, status: 'checksum mismatch', detail: `${piece.key}: CRC32C ${crc.hex()}, the manifest says ${piece.crc32c}` };
      }
    }
    if (decrypt) await inspect(await decrypt.finish());
  } catch (err) {
    await content.end();
    await sha?.close();
    if (err instanceof DecryptError && err.reason === 'damaged') return { ...base, status: 'checksum mismatch', detail: err.message };
    const status = httpStatus(err);
    if (status === 404 || err instanceof ObjectGoneError) return { ...base, status: 'missing', detail: 'disappeared while it was read' };
    if (status === 412) return { ...base, status: 'checksum mismatch', detail: 'replaced while it was read (ETag changed)' };
    throw err;
  }
  const result = await content.end();
  const digest = await sha?.hex();
  if (f.crc32c && whole.hex() !== f.crc32c) {
    return { ...base, status: 'checksum mismatch', detail: `CRC32C ${whole.hex()}, the manifest says ${f.crc32c}` };
  }
  if (digest && digest !== f.sha256) return { ...base, status: 'checksum mismatch', detail: `SHA-256 ${digest}, the manifest says ${f.sha256}` };
  const plain = f.encryption;
  if (decrypt && plain && (decrypt.plaintextBytes !== plain.plaintextSize || decrypt.plaintextCrc32c !== plain.plaintextCrc32c)) {
    return { ...base, status: 'checksum mismatch', detail: `decrypted ${decrypt.plaintextBytes} bytes with CRC32C ${decrypt.plaintextCrc32c}, the manifest says ${plain.plaintextSize}, ${plain.plaintextCrc32c}` };
  }
  if (!readable) return { ...base, status: 'ok', note: 'age-encrypted: the ciphertext\'s checksums are checked; not decrypted (no --identity), so its content is not' };
  const format = content.name || undefined;
  const extra = { ...(format ? { format } : {}), ...(result.note ? { note: result.note } : {}), ...(layout ? { captured: Buffer.concat(captured) } : {}) };
  if (result.problem) return { ...base, status: 'format error', detail: result.problem, ...extra };
  return { ...base, status: 'ok', ...extra };
}

