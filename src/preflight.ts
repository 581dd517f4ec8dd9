import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { PreflightError, describeError } from './errors.js';
import { describeS3Error, errorName, isRetryable } from './s3/s3-errors.js';
import { formatS3Url } from './s3/s3-url.js';
import type { ObjectRef, ObjectStore } from './upload/object-store.js';
import { withRetry, type RetryPolicy } from './upload/retry.js';
import type { UploadJournal } from './upload/upload-journal.js';
import type { Logger } from './util/log.js';

/** Resolves credentials from the SDK's default chain (env, profile files, instance role) or says how to provide them. */
export async function checkCredentials(client: S3Client): Promise<void> {
  try {
    const creds = await client.config.credentials();
    if (!creds.accessKeyId) throw new Error('empty access key');
  } catch (err) {
    throw new PreflightError(
      'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile ' +
        `(or AWS_PROFILE), or run where an instance role is available (${describeError(err)})`,
      { cause: err },
    );
  }
}

/**
 * Checks, before any input is read, that the bucket exists and these credentials may write
 * under the target key: starts a multipart upload beside it and aborts it at once (no object
 * is created, even in a versioned bucket).
 */
export async function checkWritable(store: ObjectStore, target: ObjectRef, retry: RetryPolicy, journal?: UploadJournal, log?: Logger): Promise<void> {
  const probe = { bucket: target.bucket, key: `${target.key}.diskless-preflight-${randomUUID().slice(0, 8)}` };
  const policy = { ...retry, retryForMs: Math.min(retry.retryForMs, 10_000) };
  let uploadId: string;
  try {
    uploadId = await withRetry(() => store.createMultipartUpload(probe, {}), policy, { what: 'the write check' });
  } catch (err) {
    throw explain(err, target, store);
  }
  // Journaled like every upload, so that a probe whose abort fails is aborted by the next run or gc.
  await journal?.add({ ...probe, uploadId, store: store.description });
  try {
    await withRetry(() => store.abortMultipartUpload(probe, uploadId), policy, { what: `AbortMultipartUpload of ${probe.key}` });
    await journal?.remove(uploadId);
  } catch (err) {
    log?.warn(`could not abort the write check's upload ${formatS3Url(probe)}: ${describeError(err)}; the next run (or \`diskless gc\`) aborts it`);
  }
}

/** Turns a store's refusal into a message that names the problem and the fix. */
export function explain(err: unknown, target: ObjectRef, store: ObjectStore): PreflightError {
  const where = formatS3Url(target);
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const name = errorName(cause);
  const messages: Record<string, string> = {
    NoSuchBucket: `bucket "${target.bucket}" does not exist (NoSuchBucket); create it or fix the URL`,
    AccessDenied:
      `access denied writing ${where} (AccessDenied); the credentials need s3:PutObject and ` +
      's3:AbortMultipartUpload on this bucket and prefix',
    Forbidden: `access denied writing ${where} (403); check the credentials and the bucket policy`,
    InvalidAccessKeyId: `the store does not know this access key (InvalidAccessKeyId); check AWS_ACCESS_KEY_ID or --profile`,
    SignatureDoesNotMatch: `the secret key does not match the access key (SignatureDoesNotMatch); check AWS_SECRET_ACCESS_KEY or --profile`,
    PermanentRedirect: `bucket "${target.bucket}" is in another region (PermanentRedirect); pass --region`,
    AuthorizationHeaderMalformed: `bucket "${target.bucket}" is in another region; pass --region`,
  };
  const known = messages[name];
  if (known) return new PreflightError(known, { cause: err });
  if (isRetryable(cause)) {
    return new PreflightError(`cannot reach the object store at ${store.description}: ${describeError(err)}; check --endpoint-url and the network`, {
      cause: err,
    });
  }
  return new PreflightError(`the write check of ${where} failed: ${describeS3Error(cause)}`, { cause: err });
}
