import { isAbsolute, posix } from 'node:path';
import picomatch from 'picomatch';
import type { EncryptionRecord } from '../crypto/age-stream.js';
import { UsageError } from '../errors.js';
import type { ManifestFile } from '../manifest/manifest.js';

/** One object (or chain) to bring back, with what it must hash to when the manifest says. */
export interface RestoreItem {
  /** Path relative to the restore directory, `/`-separated, checked by `safeRelativePath`. */
  path: string;
  key: string;
  size: number;
  /** Each object of the stream in order (one unless it is a chain). */
  pieces: Array<{ key: string; size: number; etag?: string; crc32c?: string }>;
  crc32c?: string;
  sha256?: string;
  /** Set when the stream is age-encrypted: `size`, `crc32c` and `sha256` are the ciphertext's, these the plaintext's. */
  encryption?: EncryptionRecord;
}

/** A manifest file as a restore item at `path`. */
export function itemOfFile(f: ManifestFile, path: string): RestoreItem {
  const pieces = f.chain
    ? f.chain.map((o) => ({ key: o.key, size: o.size, ...(o.etag ? { etag: o.etag } : {}), crc32c: o.crc32c }))
    : [{ key: f.key, size: f.size, ...(f.etag ? { etag: f.etag } : {}) }];
  return {
    path,
    key: f.key,
    size: f.size,
    pieces,
    ...(f.crc32c ? { crc32c: f.crc32c } : {}),
    ...(f.sha256 ? { sha256: f.sha256 } : {}),
    ...(f.encryption ? { encryption: f.encryption } : {}),
  };
}

/**
 * `path` if it stays inside the restore directory: relative, no `..`, no empty or `.` segment
 * that would make two entries one. A manifest is data from the store: a hostile or damaged one
 * must not write outside DIR.
 */
export function safeRelativePath(path: string, what: string): string {
  const segments = path.split('/');
  if (path === '' || isAbsolute(path) || path.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new UsageError(`${what}: the path ${JSON.stringify(path)} would leave the restore directory; not restored`);
  }
  return posix.normalize(path);
}

/** Whether a path is selected by --include (any; all when none) and not by --exclude (any). picomatch, dotfiles matched. */
export function pathFilter(include: readonly string[], exclude: readonly string[]): (path: string) => boolean {
  const opts = { dot: true };
  const inc = include.length > 0 ? picomatch([...include], opts) : () => true;
  const exc = exclude.length > 0 ? picomatch([...exclude], opts) : () => false;
  return (path) => inc(path) && !exc(path);
}
