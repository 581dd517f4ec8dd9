import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { EncryptionRecord } from '../crypto/age-stream.js';
import { chainIndexKey } from '../upload/chain.js';
import type { ObjectSummary } from '../upload/multipart-object.js';
import type { WriteSettings } from '../upload/object-store.js';
import { redactCommand } from './redact.js';

/**
 * The one manifest format of every backup (put, run, serve, snapshot), described with its JSON
 * Schema in docs/MANIFEST.md. Written last, as the commit marker: a backup without one is not a
 * backup. Readers also accept the older formats (read-manifest.ts).
 */
export const MANIFEST_FORMAT = 'diskless-backup/2';
/** run/serve: the manifest's name under the run's prefix; a file of the run cannot take it. */
export const MANIFEST_NAME = 'diskless-manifest.json';
/** put: the manifest sits beside the object, at `KEY` + this suffix. */
export const PUT_MANIFEST_SUFFIX = '.diskless.json';

export type BackupKind = 'put' | 'run' | 'serve' | 'snapshot';

/**
 * How the writer of a file ended (for run/serve the shim's END frame, wire.def): `closed` (it closed the file / the
 * input reached EOF), `exit` (the process exited with the file open, or the command's stdout ended with its exit),
 * `exec` (closed by an exec, FD_CLOEXEC), `replaced` (dup2 over its descriptor), `died` (killed with the file open:
 * such a file fails the run, so a manifest never holds it), `unknown` (not recorded).
 */
export type WriterEnd = 'closed' | 'exit' | 'exec' | 'replaced' | 'died' | 'unknown';

/** One object of a chain (a stream larger than one object: upload/chain.ts). */
export interface ManifestObject {
  key: string;
  size: number;
  etag: string;
  parts: number;
  partSizes: number[];
  crc32c: string;
}

export interface ManifestFile {
  /** Path relative to the virtual directory (run/serve), the volume label (snapshot), or the key's last segment (put). */
  path: string;
  key: string;
  size: number;
  /** CRC32C of the whole stream (hex). */
  crc32c: string;
  /** SHA-256 of the whole stream, when it was computed (--sha256). */
  sha256?: string;
  /** ETag of the object at `key` (object 0 of a chain); part count and part sizes as stored. */
  etag: string;
  parts: number;
  partSizes: number[];
  /** Present when the file was stored as a chain of objects; object 0 first. */
  chain?: ManifestObject[];
  storageClass?: string;
  /** Server-side encryption asked for: `AES256`, `aws:kms`, `aws:kms:dsse`. */
  sse?: string;
  end: WriterEnd;
  /** snapshot: the volume, its snapshot and the tar command. */
  volume?: Record<string, unknown>;
  /**
   * Present when the object is age-encrypted (--encrypt-to): the format, the recipients' public keys,
   * and the plaintext's size and CRC32C (`size`, `crc32c`, `sha256` and the ETag are the ciphertext's).
   */
  encryption?: EncryptionRecord;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  kind: BackupKind;
  tool: { name: 'diskless'; version: string };
  /** The command that produced the data, passwords redacted; null when there was none (stdin, serve). */
  command: string[] | null;
  exitStatus: number | null;
  host: string;
  startedAt: string;
  endedAt: string;
  bucket: string;
  /** run/serve/snapshot: the prefix given with --to; put: the object's key. */
  prefix: string;
  /** `maxInFlight` (run/serve): most files that were being written at the same time. */
  totals: { files: number; bytes: number; maxInFlight?: number };
  files: ManifestFile[];
}

export interface ManifestFileInput {
  path: string;
  key: string;
  size: number;
  crc32c: string;
  sha256?: string;
  /** Every object stored, object 0 first. */
  objects: readonly ObjectSummary[];
  end: WriterEnd;
  volume?: Record<string, unknown>;
  encryption?: EncryptionRecord;
}

export function toolVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

/** One stored file as the manifest records it. */
export function manifestFileOf(f: ManifestFileInput, s: WriteSettings = {}): ManifestFile {
  const first = f.objects[0];
  return {
    path: f.path,
    key: f.key,
    size: f.size,
    crc32c: f.crc32c,
    ...(f.sha256 ? { sha256: f.sha256 } : {}),
    etag: first?.etag ?? '',
    parts: first?.parts ?? 0,
    partSizes: first?.partSizes ?? [],
    ...(f.objects.length > 1 ? { chain: f.objects.map(manifestObject) } : {}),
    ...(s.storageClass ? { storageClass: s.storageClass } : {}),
    ...(s.sse ? { sse: s.sse } : {}),
    end: f.end,
    ...(f.volume ? { volume: f.volume } : {}),
    ...(f.encryption ? { encryption: f.encryption } : {}),
  };
}

/** The manifest of a backup whose every file is stored; `endedAt` is now. */
export function buildManifest(input: {
  kind: BackupKind;
  command: readonly string[] | null;
  exitStatus: number | null;
  startedAt: Date;
  bucket: string;
  prefix: string;
  files: readonly ManifestFileInput[];
  settings?: WriteSettings;
  maxInFlight?: number;
  host?: string;
  version?: string;
}): Manifest {
  const files = input.files.map((f) => manifestFileOf(f, input.settings));
  return {
    format: MANIFEST_FORMAT,
    kind: input.kind,
    tool: { name: 'diskless', version: input.version ?? toolVersion() },
    command: input.command ? redactCommand(input.command) : null,
    exitStatus: input.exitStatus,
    host: input.host ?? hostname(),
    startedAt: input.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    bucket: input.bucket,
    prefix: input.prefix,
    totals: {
      files: files.length,
      bytes: files.reduce((n, f) => n + f.size, 0),
      ...(input.maxInFlight !== undefined ? { maxInFlight: input.maxInFlight } : {}),
    },
    files,
  };
}

function manifestObject(o: ObjectSummary): ManifestObject {
  return { key: o.key, size: o.size, etag: o.etag, parts: o.parts, partSizes: o.partSizes, crc32c: o.crc32c };
}

/** Every key a file occupies: its objects and, for a chain, the chain index. */
export function fileKeys(f: ManifestFile): string[] {
  if (!f.chain) return [f.key];
  return [...f.chain.map((o) => o.key), chainIndexKey(f.key)];
}
