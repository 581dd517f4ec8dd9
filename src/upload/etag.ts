import { createHash } from 'node:crypto';

/** S3's ETag of a multipart object: md5 of the concatenated binary part MD5s, then `-N`. */
export function compositeEtag(partMd5s: readonly Buffer[]): string {
  const h = createHash('md5');
  for (const d of partMd5s) h.update(d);
  return `${h.digest('hex')}-${partMd5s.length}`;
}

/** Whether the store's ETag is an MD5 of the data: not for SSE-KMS (and SSE-C) objects. */
export function etagIsMd5(sse: string | undefined): boolean {
  return sse === undefined || sse === 'AES256';
}

/** An ETag as diskless keeps it: without the quotes S3 sends around it ('' when there is none). */
export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}
