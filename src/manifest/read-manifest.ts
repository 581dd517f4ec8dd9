import { UploadError } from '../errors.js';
import { MANIFEST_FORMAT, type Manifest, type ManifestFile } from './manifest.js';

/** Formats written before diskless-backup/2, still read so that existing backups list and verify. */
const RUN_FORMAT_V1 = 'diskless-manifest/1';
const SNAPSHOT_FORMAT_V1 = 'diskless-snapshot-manifest/1';

type Json = Record<string, unknown>;

/**
 * A manifest of any format diskless wrote, as a diskless-backup/2 manifest: run/serve manifests
 * of format diskless-manifest/1 and snapshot manifests of diskless-snapshot-manifest/1 are mapped
 * field by field (their files' writer end is `unknown`).
 */
export function parseManifest(text: string, where: string): Manifest {
  let v: Json;
  try {
    v = JSON.parse(text) as Json;
  } catch (err) {
    throw new UploadError(`${where} is not valid JSON`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || !Array.isArray(v['files'] ?? v['volumes'])) {
    throw new UploadError(`${where} is not a diskless manifest (no files)`);
  }
  switch (v['format']) {
    case MANIFEST_FORMAT:
      return v as unknown as Manifest;
    case RUN_FORMAT_V1: {
      const { mode, ...rest } = v;
      return {
        ...(rest as unknown as Manifest),
        format: MANIFEST_FORMAT,
        kind: mode as Manifest['kind'],
        files: (v['files'] as Json[]).map((f) => ({ ...(f as unknown as ManifestFile), end: 'unknown' })),
      };
    }
    case SNAPSHOT_FORMAT_V1: {
      const volumes = v['volumes'] as Json[];
      const files = volumes.map((vol): ManifestFile => {
        const { volume, key, size, crc32c, sha256, etag, parts, partSizes, chain, ...details } = vol;
        return {
          path: String(volume),
          key: String(key),
          size: Number(size),
          crc32c: String(crc32c),
          ...(typeof sha256 === 'string' ? { sha256 } : {}),
          etag: String(etag),
          parts: Number(parts),
          partSizes: partSizes as number[],
          ...(Array.isArray(chain) ? { chain: chain as ManifestFile['chain'] } : {}),
          end: 'unknown',
          volume: { volume, ...details },
        };
      });
      return {
        format: MANIFEST_FORMAT,
        kind: 'snapshot',
        tool: v['tool'] as Manifest['tool'],
        command: null,
        exitStatus: 0,
        host: String(v['host']),
        startedAt: String(v['startedAt']),
        endedAt: String(v['endedAt']),
        bucket: String(v['bucket']),
        prefix: String(v['prefix']),
        totals: { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) },
        files,
      };
    }
    default:
      throw new UploadError(`${where} has format ${JSON.stringify(v['format'])}, which this diskless does not know`);
  }
}
