import {
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  type LifecycleRule as SdkLifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { StoreError } from '../store-error.js';
import { toStoreError } from './s3-errors.js';

/**
 * A bucket's lifecycle rule in S3's own JSON shape (as `aws s3api put-bucket-lifecycle-configuration` takes it), so
 * what diskless prints can be applied by hand. Only the parts diskless writes are typed; rules it did not write are
 * carried through unchanged.
 */
export interface LifecycleRule {
  ID?: string;
  Status: 'Enabled' | 'Disabled';
  Filter?: { Prefix?: string } & Record<string, unknown>;
  AbortIncompleteMultipartUpload?: { DaysAfterInitiation: number };
  Transitions?: Array<{ Days: number; StorageClass: string }>;
  Expiration?: { Days: number };
  NoncurrentVersionExpiration?: { NoncurrentDays: number };
  [other: string]: unknown;
}

export type VersioningState = 'Enabled' | 'Suspended' | 'Off';

export interface ObjectLockState {
  /** Object Lock can only be enabled when the bucket is created. */
  enabled: boolean;
  defaultRetention?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number };
}

/** The bucket's lifecycle rules; none when it has no lifecycle configuration. */
export async function getLifecycleRules(client: S3Client, bucket: string): Promise<LifecycleRule[]> {
  try {
    const out = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    return (out.Rules ?? []).map((r) => stripUndefined(r) as LifecycleRule);
  } catch (err) {
    const e = toStoreError(err);
    if (StoreError.is(e) && e.code === 'NoSuchLifecycleConfiguration') return [];
    throw e;
  }
}

/** Replaces the bucket's whole lifecycle configuration with `rules` (S3 has no per-rule update). */
export async function putLifecycleRules(client: S3Client, bucket: string, rules: LifecycleRule[]): Promise<void> {
  // The SDK adds the integrity header S3 requires here (a CRC32 of the small XML body; RGW accepts it).
  await client
    .send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules as SdkLifecycleRule[] } }))
    .catch(rethrow);
}

export async function getVersioning(client: S3Client, bucket: string): Promise<VersioningState> {
  const out = await client.send(new GetBucketVersioningCommand({ Bucket: bucket })).catch(rethrow);
  return out.Status === 'Enabled' || out.Status === 'Suspended' ? out.Status : 'Off';
}

export async function enableVersioning(client: S3Client, bucket: string): Promise<void> {
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } })).catch(rethrow);
}

export async function getObjectLock(client: S3Client, bucket: string): Promise<ObjectLockState> {
  try {
    const out = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
    const conf = out.ObjectLockConfiguration;
    const retention = conf?.Rule?.DefaultRetention;
    const days = retention?.Days ?? (retention?.Years !== undefined ? retention.Years * 365 : undefined);
    return {
      enabled: conf?.ObjectLockEnabled === 'Enabled',
      ...(retention?.Mode && days !== undefined ? { defaultRetention: { mode: retention.Mode, days } } : {}),
    };
  } catch (err) {
    // AWS: ObjectLockConfigurationNotFoundError; some stores answer 404 with another name.
    const e = toStoreError(err);
    if (StoreError.is(e) && (e.code === 'ObjectLockConfigurationNotFoundError' || e.status === 404)) return { enabled: false };
    throw e;
  }
}

export async function putObjectLockDefault(
  client: S3Client,
  bucket: string,
  retention: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number },
): Promise<void> {
  await client.send(new PutObjectLockConfigurationCommand({
    Bucket: bucket,
    ObjectLockConfiguration: {
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: retention.mode, Days: retention.days } },
    },
  })).catch(rethrow);
}

/** Every failure leaves this module as a StoreError (src/store-error.ts). */
function rethrow(err: unknown): never {
  throw toStoreError(err);
}

function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, stripUndefined(v)]),
    );
  }
  return value;
}
