/**
 * How each part of a multipart upload proves its bytes to the store. `md5`: Content-MD5, and the ETags checked
 * against the MD5s (works on every store). `crc32c`: S3's x-amz-checksum-crc32c, verified by the store, and the
 * object's composite CRC32C checked after Complete; no MD5 is computed (it is most of a part's CPU). `auto`
 * (the default): asks for CRC32C when it begins each upload, and uses it where the store's answer says it took
 * it (AWS, newer Ceph), MD5 elsewhere (Ceph 16, Swift, stores that ignore additional checksums).
 */
import { crc32c } from '../checksum/crc32c.js';

export type PartChecksum = 'auto' | 'md5' | 'crc32c';

export const PART_CHECKSUMS: readonly PartChecksum[] = ['auto', 'md5', 'crc32c'];

/** A CRC32C as S3 writes it in x-amz-checksum-crc32c: the four bytes, big-endian, in base64. */
export function crc32cBase64(crc: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

/** S3's CRC32C of a multipart object (COMPOSITE): the CRC32C of the parts' CRC32Cs (each as four bytes), `-N`. */
export function compositeCrc32c(partCrcs: readonly number[]): string {
  const all = Buffer.alloc(4 * partCrcs.length);
  partCrcs.forEach((c, i) => all.writeUInt32BE(c >>> 0, 4 * i));
  return `${crc32cBase64(crc32c(all))}-${partCrcs.length}`;
}
