import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { ObjectStore } from './object-store.js';
import type { UploadJournal } from './upload-journal.js';

/**
 * Aborts the multipart uploads that earlier runs on this host left open in this store (killed,
 * or cut off from the store when they tried to abort). Returns how many it aborted.
 */
export async function abortLeftovers(journal: UploadJournal, store: ObjectStore, log: Logger): Promise<number> {
  let aborted = 0;
  for (const e of await journal.leftovers(store.description)) {
    try {
      await store.abortMultipartUpload(e, e.uploadId, { signal: AbortSignal.timeout(30_000) });
      await journal.remove(e.uploadId);
      aborted++;
      log.info(`aborted a multipart upload an earlier run left open: s3://${e.bucket}/${e.key}`);
    } catch (err) {
      log.warn(`could not abort the upload an earlier run left open at s3://${e.bucket}/${e.key}: ${describeError(err)}`);
    }
  }
  return aborted;
}
