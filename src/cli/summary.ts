import type { Manifest } from '../manifest/manifest.js';
import type { DownloadResult } from '../download/object-reader.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { StreamUploadResult } from '../upload/stream-uploader.js';
import { formatBytes } from '../util/size.js';
import type { SummaryFields } from './run-report.js';

function rate(bytes: number, ms: number): string {
  return `${formatBytes(Math.round(bytes / Math.max(ms / 1000, 0.001)))}/s`;
}

/** The final line of `put` on stderr: what was stored, how fast, and how to check it. */
export function putSummary(r: StreamUploadResult): string {
  const objects = r.objects.length === 1 ? '1 object' : `${r.objects.length} objects (a chain)`;
  return (
    `stored ${formatS3Url(r)}: ${formatBytes(r.size)} (${r.size} bytes) in ${objects}, ${r.parts} part${r.parts === 1 ? '' : 's'}, ` +
    `${(r.elapsedMs / 1000).toFixed(1)} s, ${rate(r.size, r.elapsedMs)}; ETag ${r.etag}; CRC32C ${r.crc32c}` +
    (r.sha256 ? `; SHA-256 ${r.sha256}` : '')
  );
}

export function getSummary(r: DownloadResult): string {
  return (
    `read ${formatS3Url(r)}: ${formatBytes(r.size)} (${r.size} bytes) from ${r.objects} object${r.objects === 1 ? '' : 's'}, ` +
    `${(r.elapsedMs / 1000).toFixed(1)} s, ${rate(r.size, r.elapsedMs)}; CRC32C ${r.crc32c}`
  );
}

/** put's summary for scripts (`--log-format json`). */
export function putSummaryFields(r: StreamUploadResult): SummaryFields {
  return {
    url: formatS3Url(r),
    bytes: r.size,
    objects: r.objects.length,
    parts: r.parts,
    checksums: { etag: r.etag, crc32c: r.crc32c, ...(r.sha256 ? { sha256: r.sha256 } : {}) },
  };
}

export function getSummaryFields(r: DownloadResult): SummaryFields {
  return { url: formatS3Url(r), bytes: r.size, objects: r.objects, checksums: { crc32c: r.crc32c } };
}

/** run's, serve's and snapshot's summary: the backup's prefix, its manifest, and every file's checksum. */
export function manifestSummaryFields(m: Manifest, bucket: string, prefix: string, manifestKey: string): SummaryFields {
  return {
    url: formatS3Url({ bucket, key: prefix }),
    manifest: formatS3Url({ bucket, key: manifestKey }),
    bytes: m.totals.bytes,
    objects: m.totals.files,
    checksums: Object.fromEntries(m.files.map((f) => [f.path, { crc32c: f.crc32c, ...(f.sha256 ? { sha256: f.sha256 } : {}), etag: f.etag }])),
  };
}
