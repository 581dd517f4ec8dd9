import { buildManifest, type Manifest } from '../manifest/manifest.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { VolumeResult } from './backup-job.js';

/** `PREFIX/<host>/diskless-manifest-<timestamp>.json`: one per run, beside the run's archives. */
export function manifestKey(prefix: string, host: string, timestamp: string): string {
  return `${prefix}${host}/diskless-manifest-${timestamp}.json`;
}

/**
 * The manifest of a snapshot run (diskless-backup/2, kind `snapshot`): one file per volume, with
 * the volume, its snapshot and the tar (and compressor) command under `volume`. Written last,
 * only when every volume was stored: a run without it is not a backup.
 */
export function buildSnapshotManifest(input: {
  startedAt: Date;
  bucket: string;
  prefix: string;
  host?: string;
  results: readonly VolumeResult[];
  settings?: WriteSettings;
}): Manifest {
  return buildManifest({
    kind: 'snapshot',
    command: null,
    exitStatus: 0,
    startedAt: input.startedAt,
    bucket: input.bucket,
    prefix: input.prefix,
    ...(input.host ? { host: input.host } : {}),
    ...(input.settings ? { settings: input.settings } : {}),
    files: input.results.map((r) => {
      const v = r.volume;
      return {
        path: v.label,
        key: r.key,
        size: r.size,
        crc32c: r.crc32c,
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
        objects: r.objects,
        // tar (and the compressor) exited 0: the archive ended with them.
        end: 'exit',
        ...(r.encryption ? { encryption: r.encryption } : {}),
        volume: {
          volume: v.label,
          method: v.method,
          ...(v.method === 'lvm' ? { vg: v.vg, lv: v.lv } : {}),
          mountpoint: v.mountpoint,
          fstype: v.fstype,
          tarCommand: r.commands[0] ?? [],
          ...(r.commands[1] ? { compressCommand: r.commands[1] } : {}),
          snapshot: r.details,
          ...(r.maxFillPercent !== undefined ? { maxFillPercent: r.maxFillPercent } : {}),
          elapsedMs: r.elapsedMs,
        },
      };
    }),
  });
}
