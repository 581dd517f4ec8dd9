import { hostname } from 'node:os';
import type { ObjectSummary } from '../upload/multipart-object.js';
import type { VolumeResult } from './backup-job.js';
import type { SnapshotMethod } from './volume-plan.js';

export const SNAPSHOT_MANIFEST_FORMAT = 'diskless-snapshot-manifest/1';

/** `PREFIX/<host>/diskless-manifest-<timestamp>.json`: one per run, beside the run's archives. */
export function manifestKey(prefix: string, host: string, timestamp: string): string {
  return `${prefix}${host}/diskless-manifest-${timestamp}.json`;
}

export interface SnapshotManifestVolume {
  /** `vg0/data` or the path. */
  volume: string;
  method: SnapshotMethod;
  vg?: string;
  lv?: string;
  mountpoint: string | null;
  fstype: string;
  key: string;
  size: number;
  crc32c: string;
  sha256?: string;
  etag: string;
  parts: number;
  partSizes: number[];
  /** Present when the archive was stored as a chain of objects. */
  chain?: ObjectSummary[];
  /** The tar command line (argument array), run in the snapshot's directory. */
  tarCommand: string[];
  compressCommand?: string[];
  /** Snapshot name, kind, size or pool, mount options, or freeze details. */
  snapshot: Record<string, unknown>;
  /** Highest copy-on-write (or thin pool) usage seen while reading, percent. */
  maxFillPercent?: number;
  elapsedMs: number;
}

/** Written last, only when every volume was stored: a run without it is not a backup. */
export interface SnapshotManifest {
  format: typeof SNAPSHOT_MANIFEST_FORMAT;
  tool: { name: 'diskless'; version: string };
  mode: 'snapshot';
  host: string;
  startedAt: string;
  endedAt: string;
  bucket: string;
  prefix: string;
  totals: { volumes: number; bytes: number };
  volumes: SnapshotManifestVolume[];
}

export function buildSnapshotManifest(input: {
  version: string;
  startedAt: Date;
  bucket: string;
  prefix: string;
  host?: string;
  results: readonly VolumeResult[];
}): SnapshotManifest {
  const volumes = input.results.map((r): SnapshotManifestVolume => {
    const v = r.volume;
    return {
      volume: v.label,
      method: v.method,
      ...(v.method === 'lvm' ? { vg: v.vg, lv: v.lv } : {}),
      mountpoint: v.mountpoint,
      fstype: v.fstype,
      key: r.key,
      size: r.size,
      crc32c: r.crc32c,
      ...(r.sha256 ? { sha256: r.sha256 } : {}),
      etag: r.etag,
      parts: r.parts,
      partSizes: r.partSizes,
      ...(r.objects.length > 1 ? { chain: r.objects } : {}),
      tarCommand: r.commands[0] ?? [],
      ...(r.commands[1] ? { compressCommand: r.commands[1] } : {}),
      snapshot: r.details,
      ...(r.maxFillPercent !== undefined ? { maxFillPercent: r.maxFillPercent } : {}),
      elapsedMs: r.elapsedMs,
    };
  });
  return {
    format: SNAPSHOT_MANIFEST_FORMAT,
    tool: { name: 'diskless', version: input.version },
    mode: 'snapshot',
    host: input.host ?? hostname(),
    startedAt: input.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    bucket: input.bucket,
    prefix: input.prefix,
    totals: { volumes: volumes.length, bytes: volumes.reduce((n, v) => n + v.size, 0) },
    volumes,
  };
}
