import { PreflightError, UsageError } from '../errors.js';
import {
  enableVersioning,
  getLifecycleRules,
  getObjectLock,
  getVersioning,
  putLifecycleRules,
  putObjectLockDefault,
  type LifecycleRule,
  type ObjectLockState,
  type VersioningState,
} from '../s3/bucket-config.js';
import { StoreError, describeStoreError as describeS3Error } from '../store-error.js';
import { parseS3Url } from '../s3/s3-url.js';
import { withRetry } from '../upload/retry.js';
import { mergeRules, wantedRules, type BucketWishes } from './bucket-rules.js';
import { prunerPolicy, writerPolicy, type IamPolicy } from './iam-policies.js';
import { openSession, type SessionOptions } from './session.js';

export interface SetupBucketOptions extends SessionOptions, Omit<BucketWishes, 'prefix'> {
  /** `s3://BUCKET` or `s3://BUCKET/PREFIX/`: the rules apply under PREFIX. */
  url: string;
  /** Turn versioning on (it cannot be turned off again, only suspended). */
  versioning?: boolean;
  /** Default Object Lock retention for new objects; the bucket must have been created with Object Lock. */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
  /** Compute and return the plan; change nothing. */
  dryRun?: boolean;
}

export interface SetupBucketResult {
  bucket: string;
  prefix: string;
  applied: boolean;
  lifecycle: { rules: LifecycleRule[]; kept: string[]; added: string[]; replaced: string[] };
  versioning: { before: VersioningState; after: VersioningState };
  objectLock: { before: ObjectLockState; after: ObjectLockState };
  policies: { writer: IamPolicy; pruner: IamPolicy };
}

/**
 * `diskless setup-bucket`: gives a backup bucket what it needs (a rule aborting incomplete multipart uploads; optional
 * storage-class transitions, expiry, versioning with noncurrent-version expiry, default Object Lock retention), merged
 * with the rules it already has, and returns least-privilege IAM policies for the writing and the pruning host.
 */
export async function setupBucket(options: SetupBucketOptions): Promise<SetupBucketResult> {
  const loc = parseS3Url(options.url, 'bucket');
  const prefix = loc.key;
  const session = await openSession(options);
  try {
    const client = session.client;
    if (!client) throw new UsageError('setup-bucket needs an S3 endpoint (no other store is supported)');
    const bucket = loc.bucket;
    const existing = await read(session, bucket, () => getLifecycleRules(client, bucket));
    const merged = mergeRules(existing, wantedRules({ ...options, prefix }));
    const versioningBefore = await read(session, bucket, () => getVersioning(client, bucket));
    if (options.noncurrentExpireDays !== undefined && !options.versioning && versioningBefore !== 'Enabled') {
      // Without versioning there are no noncurrent versions: the rule would silently do nothing.
      throw new UsageError(`--noncurrent-expire-after needs versioning, which bucket "${bucket}" does not have: add --versioning`);
    }
    const lockBefore = await read(session, bucket, () => getObjectLock(client, bucket));
    if (options.objectLock && !lockBefore.enabled) {
      throw new UsageError(
        `bucket "${bucket}" has no Object Lock, and S3 can only enable it when a bucket is created; create a new bucket ` +
          `with it (aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket) or leave out --object-lock-days`,
      );
    }
    const result: SetupBucketResult = {
      bucket,
      prefix,
      applied: false,
      lifecycle: merged,
      versioning: { before: versioningBefore, after: options.versioning ? 'Enabled' : versioningBefore },
      objectLock: {
        before: lockBefore,
        after: options.objectLock ? { enabled: true, defaultRetention: options.objectLock } : lockBefore,
      },
      policies: { writer: writerPolicy(bucket, prefix), pruner: prunerPolicy(bucket, prefix) },
    };
    if (options.dryRun) return result;
    if (options.versioning && versioningBefore !== 'Enabled') {
      await write(session, bucket, 'PutBucketVersioning', () => enableVersioning(client, bucket));
    }
    if (merged.added.length > 0 || merged.replaced.length > 0) {
      await write(session, bucket, 'PutBucketLifecycleConfiguration', () => putLifecycleRules(client, bucket, merged.rules));
    }
    if (options.objectLock) {
      await write(session, bucket, 'PutObjectLockConfiguration', () => putObjectLockDefault(client, bucket, options.objectLock!));
    }
    result.applied = true;
    return result;
  } finally {
    session.close();
  }
}

type Session = Awaited<ReturnType<typeof openSession>>;

async function read<T>(session: Session, bucket: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(fn, session.retry, { what: `reading the configuration of bucket "${bucket}"` });
  } catch (err) {
    throw refusal(err, bucket, 'read');
  }
}

async function write(session: Session, bucket: string, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await withRetry(fn, session.retry, { what });
  } catch (err) {
    throw refusal(err, bucket, what);
  }
}

function refusal(err: unknown, bucket: string, what: string): PreflightError {
  // The store's error itself, or the one a retry gave up on.
  const cause = StoreError.is(err) ? err : err instanceof Error && StoreError.is(err.cause) ? err.cause : err;
  const name = StoreError.is(cause) ? cause.code : '';
  if (name === 'NoSuchBucket') return new PreflightError(`bucket "${bucket}" does not exist (NoSuchBucket); create it or fix the URL`, { cause: err });
  if (name === 'AccessDenied') {
    return new PreflightError(
      `access denied (${what} on bucket "${bucket}"); setting up a bucket needs its owner's credentials ` +
        '(s3:GetLifecycleConfiguration, s3:PutLifecycleConfiguration, s3:GetBucketVersioning, s3:PutBucketVersioning, ' +
        's3:GetBucketObjectLockConfiguration, s3:PutBucketObjectLockConfiguration)',
      { cause: err },
    );
  }
  if (name === 'NotImplemented' || name === 'MalformedXML') {
    return new PreflightError(`this store does not support ${what === 'read' ? 'bucket lifecycle configuration' : what} (${describeS3Error(cause)}); set the rules in the provider's console`, {
      cause: err,
    });
  }
  return new PreflightError(`${what === 'read' ? 'reading the configuration' : what} of bucket "${bucket}" failed: ${describeS3Error(cause)}`, { cause: err });
}
