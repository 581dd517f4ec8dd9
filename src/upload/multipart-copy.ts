import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { CompletedPart, ObjectRef, ObjectStore, WriteSettings } from './object-store.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { S3_MAX_PART_SIZE, S3_MAX_PARTS, S3_MIN_PART_SIZE } from './s3-limits.js';

/** The largest object one CopyObject may copy (S3's limit); larger ones are copied part by part. */
export const MAX_SINGLE_COPY = 5 * 1024 ** 3;

/**
 * Inclusive byte ranges of the parts of a server-side copy of `size` bytes: `partSize` each (at
 * least 5 MiB, at most 5 GiB), grown if needed so that there are at most 10,000 parts.
 */
export function copyRanges(size: number, partSize: number): Array<{ first: number; last: number }> {
  let part = Math.min(S3_MAX_PART_SIZE, Math.max(S3_MIN_PART_SIZE, partSize));
  if (Math.ceil(size / part) > S3_MAX_PARTS) part = Math.ceil(size / S3_MAX_PARTS);
  const ranges: Array<{ first: number; last: number }> = [];
  for (let first = 0; first < size; first += part) ranges.push({ first, last: Math.min(size, first + part) - 1 });
  return ranges;
}

/**
 * Copies `from` to `to` inside the store with UploadPartCopy (for objects over 5 GiB, which
 * CopyObject refuses): one multipart upload, its parts copied in order, completed; aborted if any
 * request fails for good. Returns the number of parts and their distinct sizes in order (as ObjectSummary).
 */
export async function copyInParts(
  deps: { store: ObjectStore; retry: RetryPolicy; log: Logger },
  from: ObjectRef,
  to: ObjectRef,
  size: number,
  settings: WriteSettings,
  partSize: number,
): Promise<{ parts: number; partSizes: number[] }> {
  const { store, retry } = deps;
  // The run's write settings, metadata included: every file of a run was written with them.
  const { uploadId } = await withRetry(() => store.createMultipartUpload(to, settings), retry, { what: `CreateMultipartUpload ${to.key}` });
  try {
    const parts: CompletedPart[] = [];
    const ranges = copyRanges(size, partSize);
    for (const [i, r] of ranges.entries()) {
      const partNumber = i + 1;
      const { etag } = await withRetry(
        () => store.uploadPartCopy({ ...to, uploadId, partNumber, source: from, first: r.first, last: r.last }),
        retry,
        { what: `UploadPartCopy ${to.key} part ${partNumber}` },
      );
      parts.push({ partNumber, etag });
    }
    await withRetry(() => store.completeMultipartUpload(to, uploadId, parts), retry, { what: `CompleteMultipartUpload ${to.key}` });
    const sizes = ranges.map((r) => r.last - r.first + 1);
    return { parts: sizes.length, partSizes: sizes.filter((s, i) => i === 0 || s !== sizes[i - 1]) };
  } catch (err) {
    await store.abortMultipartUpload(to, uploadId).catch((e) => deps.log.warn(`could not abort the copy upload ${uploadId} of ${to.key}: ${describeError(e)}`));
    throw err;
  }
}
