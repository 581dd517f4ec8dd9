import { fileKeys, type ManifestFile, type ManifestObject } from '../manifest/manifest.js';
import { chainIndexKey } from '../upload/chain.js';
import { etagIsMd5 } from '../upload/etag.js';
import type { ListedObject } from '../upload/object-store.js';

export type FileStatus = 'ok' | 'missing' | 'size mismatch' | 'checksum mismatch' | 'format error';

export interface FileCheck {
  path: string;
  key: string;
  status: FileStatus;
  /** What differs, or what was checked beyond the listing (deep: `tar`, `gzip`…). */
  detail?: string;
}

/**
 * The no-download check of one file of a manifest against a listing: every object (each one of a
 * chain, and the chain index) exists with the recorded size and composite ETag (part count
 * included). Where the ETag is not an MD5 (SSE-KMS), only the part count in it is compared.
 */
export function checkAgainstListing(f: ManifestFile, listing: ReadonlyMap<string, ListedObject>): FileCheck {
  const base = { path: f.path, key: f.key };
  const objects: ManifestObject[] = f.chain ?? [{ key: f.key, size: f.size, etag: f.etag, parts: f.parts, partSizes: f.partSizes, crc32c: f.crc32c }];
  const missing = fileKeys(f).filter((k) => !listing.has(k));
  if (missing.length > 0) {
    const what = missing.map((k) => (k === f.key ? 'the object' : k === chainIndexKey(f.key) ? 'its chain index' : k)).join(', ');
    return { ...base, status: 'missing', detail: `${what} missing` };
  }
  for (const o of objects) {
    const got = listing.get(o.key)!;
    const which = o.key === f.key ? '' : `${o.key}: `;
    if (got.size !== o.size) return { ...base, status: 'size mismatch', detail: `${which}the store holds ${got.size} bytes, the manifest says ${o.size}` };
    if (!o.etag || !got.etag) continue;
    if (etagIsMd5(f.sse)) {
      if (got.etag !== o.etag) return { ...base, status: 'checksum mismatch', detail: `${which}ETag ${got.etag}, the manifest says ${o.etag}` };
    } else if (partCount(got.etag) !== partCount(o.etag)) {
      return { ...base, status: 'checksum mismatch', detail: `${which}${partCount(got.etag)} part(s), the manifest says ${partCount(o.etag)}` };
    }
  }
  return { ...base, status: 'ok' };
}

function partCount(etag: string): number {
  const m = /-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : 1;
}
