import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { PreflightError, UsageError, describeError } from './errors.js';
import { StoreError, describeStoreError } from './store-error.js';
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
 * is created, even in a versioned bucket). With `crc32c`, the upload asks for CRC32C part
 * checksums, and the answer (true) says the store takes them (part-checksum.ts).
 */
export async function checkWritable(
  store: ObjectStore,
  target: ObjectRef,
  retry: RetryPolicy,
  options: { journal?: UploadJournal; log?: Logger; crc32c?: boolean } = {},
): Promise<{ crc32c: boolean }> {
  const { journal, log } = options;
  const probe = { bucket: target.bucket, key: `${target.key}.diskless-preflight-${randomUUID().slice(0, 8)}` };
  const policy = { ...retry, retryForMs: Math.min(retry.retryForMs, 10_000) };
  let uploadId: string;
  let crc32c: boolean;
  try {
    ({ uploadId, crc32c } = await withRetry(() => store.createMultipartUpload(probe, {}, { crc32c: options.crc32c === true }), policy, { what: 'the write check' }));
  } catch (err) {
    // A store may refuse the checksum header itself (Backblaze B2: InvalidArgument, "Unsupported header
    // 'x-amz-checksum-algorithm'"): it takes no CRC32C part checksums, and the check is made again without it.
    const refusal = storeErrorOf(err);
    if (!options.crc32c || refusal?.kind !== 'rejected') throw explain(err, target, store);
    log?.debug(`the store refused to begin an upload with CRC32C part checksums (${describeStoreError(refusal)}): parts carry Content-MD5`);
    try {
      ({ uploadId } = await withRetry(() => store.createMultipartUpload(probe, {}), policy, { what: 'the write check' }));
      crc32c = false;
    } catch (again) {
      throw explain(again, target, store);
    }
  }
  // Journaled like every upload, so that a probe whose abort fails is aborted by the next run or gc.
  await journal?.add({ ...probe, uploadId, store: store.description });
  try {
    await withRetry(() => store.abortMultipartUpload(probe, uploadId), policy, { what: `AbortMultipartUpload of ${probe.key}` });
    await journal?.remove(uploadId);
  } catch (err) {
    log?.warn(`could not abort the write check's upload ${formatS3Url(probe)}: ${describeError(err)}; the next run (or \`diskless gc\`) aborts it`);
  }
  return { crc32c };
}

/** Turns a store's refusal into a message that names the problem and the fix. */
export function explain(err: unknown, target: ObjectRef, store: ObjectStore): PreflightError {
  const where = formatS3Url(target);
  const cause = storeErrorOf(err);
  const name = cause?.code ?? '';
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
  if (cause?.kind === 'not-s3') return notS3(cause, store, err);
  if (cause?.retryable) {
    return new PreflightError(`cannot reach the object store at ${store.description}: ${describeError(err)}; check --endpoint-url and the network`, {
      cause: err,
    });
  }
  return new PreflightError(`the write check of ${where} failed: ${describeStoreError(cause ?? err)}`, { cause: err });
}

/**
 * The state directory must be writable before any upload starts: a run that cannot record an
 * open upload could not tell the next run to abort it. Creates the journal directory (as the
 * journal would) and writes and removes a probe file in it.
 */
export function checkStateDir(journal: string, stateDirFlag: string | undefined): void {
  const flag = stateDirFlag ? `--state-dir ${stateDirFlag}` : `the state directory ${journal}`;
  try {
    mkdirSync(journal, { recursive: true, mode: 0o700 });
    const probe = join(journal, `.diskless-write-check-${process.pid}`);
    writeFileSync(probe, '', { mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(
      `${flag} is not usable: cannot write ${journal} (${code}); diskless records open uploads there so that a killed run's are aborted later. ` +
        'Pass a writable --state-dir (or set XDG_STATE_HOME)',
      { cause: err },
    );
  }
}

/** The StoreError behind `err` (withRetry wraps it in an UploadError), if any. */
export function storeErrorOf(err: unknown): StoreError | undefined {
  if (StoreError.is(err)) return err;
  const cause = err instanceof Error ? err.cause : undefined;
  return StoreError.is(cause) ? cause : undefined;
}

/** An endpoint that answers HTTP but not S3 (a web server, a console's address): said at once, not retried. */
export function notS3(cause: StoreError, store: ObjectStore, err: unknown = cause): PreflightError {
  return new PreflightError(
    `this endpoint does not speak S3: ${store.description} answered HTTP ${cause.status ?? '?'}, ${cause.message}; ` +
      'check --endpoint-url: it must be the address of the S3 API, not of a web page or console',
    { cause: err },
  );
}
