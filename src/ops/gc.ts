import { describeError } from '../errors.js';
import { explain } from '../preflight.js';
import { parseS3Url } from '../s3/s3-url.js';
import { abortLeftovers } from '../upload/leftovers.js';
import type { OpenUpload } from '../upload/object-store.js';
import { withRetry } from '../upload/retry.js';
import { UploadJournal, defaultStateDir, journalDir } from '../upload/upload-journal.js';
import { openSession, type SessionOptions } from './session.js';

export interface GcOptions extends SessionOptions {
  /** `s3://bucket` or `s3://bucket/prefix` */
  url: string;
  /** Abort uploads started longer ago than this (ms). Uploads of this host's dead runs go regardless. */
  olderThanMs: number;
  dryRun?: boolean;
  stateDir?: string;
}

export interface GcResult {
  /** Uploads this host's earlier runs left open, aborted first. */
  leftovers: number;
  aborted: OpenUpload[];
  kept: number;
  failed: Array<{ upload: OpenUpload; error: string }>;
}

/**
 * `diskless gc`: aborts incomplete multipart uploads under a prefix (they cost storage until
 * aborted). First those this host's killed runs recorded in the journal, then any older than
 * `olderThanMs`: younger ones may belong to a backup still running elsewhere.
 */
export async function gc(options: GcOptions): Promise<GcResult> {
  const loc = parseS3Url(options.url, 'target');
  const session = await openSession(options);
  try {
    const { store, retry, log } = session;
    const journal = new UploadJournal(journalDir(options.stateDir ?? defaultStateDir()));
    let leftovers = options.dryRun ? 0 : await abortLeftovers(journal, store, log);
    let uploads: OpenUpload[];
    try {
      uploads = await withRetry(() => store.listMultipartUploads(loc.bucket, loc.key), retry, { what: 'ListMultipartUploads' });
    } catch (err) {
      throw explain(err, { bucket: loc.bucket, key: loc.key }, store);
    }
    const cutoff = Date.now() - options.olderThanMs;
    // Uploads a dead run on this host journaled through another endpoint (a proxy, another name of this
    // store): the store's own upload id in its list is the proof, whatever the endpoint was called.
    const dead = new Map((await journal.deadEntries()).map((e) => [`${e.bucket}\0${e.uploadId}`, e]));
    const result: GcResult = { leftovers: 0, aborted: [], kept: 0, failed: [] };
    for (const upload of uploads) {
      const journaled = dead.get(`${upload.bucket}\0${upload.uploadId}`);
      if (journaled && journaled.key === upload.key && !options.dryRun) {
        try {
          await withRetry(() => store.abortMultipartUpload(upload, upload.uploadId), retry, { what: `AbortMultipartUpload of ${upload.key}` });
          await journal.remove(upload.uploadId);
          leftovers++;
          log.info(`aborted a multipart upload an earlier run left open (journaled via ${journaled.store}): s3://${upload.bucket}/${upload.key}`);
        } catch (err) {
          result.failed.push({ upload, error: describeError(err) });
        }
        continue;
      }
      if (upload.initiated && upload.initiated.getTime() > cutoff) {
        result.kept++;
        continue;
      }
      if (options.dryRun) {
        result.aborted.push(upload);
        continue;
      }
      try {
        await withRetry(() => store.abortMultipartUpload(upload, upload.uploadId), retry, { what: `AbortMultipartUpload of ${upload.key}` });
        result.aborted.push(upload);
      } catch (err) {
        result.failed.push({ upload, error: describeError(err) });
      }
    }
    return { ...result, leftovers };
  } finally {
    session.close();
  }
}
