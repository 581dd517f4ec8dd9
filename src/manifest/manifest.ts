import { hostname } from 'node:os';
import type { FileEnding, VirtualFile } from '../ingest/virtual-files.js';
import type { ObjectSummary } from '../upload/multipart-object.js';

export const MANIFEST_FORMAT = 'diskless-manifest/1';
/** The manifest's name under the run's prefix; a file of the run cannot take it. */
export const MANIFEST_NAME = 'diskless-manifest.json';

export interface ManifestFile {
  /** Path relative to the virtual directory. */
  path: string;
  key: string;
  size: number;
  crc32c: string;
  /** ETag of the object at `key`; parts and part sizes as stored. */
  etag: string;
  parts: number;
  partSizes: number[];
  /** Present when the file was stored as a chain of objects (chain.ts). */
  chain?: ObjectSummary[];
  /**
   * How its last writer ended it (wire.def: END): `close`, `exit` (still open at exit/_exit),
   * `exec` (closed by exec, FD_CLOEXEC), `replaced` (dup2 over it). A file whose writer died
   * without one is never in a manifest: it fails the run.
   */
  ended?: FileEnding;
}

/**
 * The commit marker of a backup, written last: every file with what it takes to verify it
 * without downloading it, and what produced them. A prefix without it is not a backup.
 */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  tool: { name: 'diskless'; version: string };
  mode: 'run' | 'serve';
  command: string[] | null;
  exitStatus: number | null;
  host: string;
  startedAt: string;
  endedAt: string;
  bucket: string;
  prefix: string;
  /** `maxInFlight`: most files that were being written at the same time. */
  totals: { files: number; bytes: number; maxInFlight: number };
  files: ManifestFile[];
}

export function buildManifest(input: {
  version: string;
  mode: Manifest['mode'];
  command: string[] | null;
  exitStatus: number | null;
  startedAt: Date;
  bucket: string;
  prefix: string;
  files: VirtualFile[];
  maxInFlight: number;
}): Manifest {
  const files = input.files.map((f): ManifestFile => {
    const objects = f.objects ?? [];
    const first = objects[0];
    return {
      path: f.path,
      key: f.key,
      size: f.bytes,
      crc32c: f.crc32c ?? '',
      etag: first?.etag ?? '',
      parts: first?.parts ?? 0,
      partSizes: first?.partSizes ?? [],
      ...(objects.length > 1 ? { chain: objects } : {}),
      ...(f.ended ? { ended: f.ended } : {}),
    };
  });
  return {
    format: MANIFEST_FORMAT,
    tool: { name: 'diskless', version: input.version },
    mode: input.mode,
    command: input.command,
    exitStatus: input.exitStatus,
    host: hostname(),
    startedAt: input.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    bucket: input.bucket,
    prefix: input.prefix,
    totals: { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0), maxInFlight: input.maxInFlight },
    files,
  };
}
