import { HeadObjectCommand, ListBucketsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { StoreError, describeStoreError } from '../store-error.js';
import { toStoreError } from './s3-errors.js';

/** What an S3 request told about the store: answered, refused with an S3 error, or not S3 at all. */
export type ServiceAnswer =
  | { kind: 'ok' }
  | { kind: 's3-error'; name: string; status?: number; description: string }
  | { kind: 'not-s3'; description: string }
  | { kind: 'unreachable'; description: string };

/** ListBuckets: the one request every S3 store answers (possibly with AccessDenied for a restricted key). */
export async function probeService(client: S3Client): Promise<ServiceAnswer> {
  try {
    await client.send(new ListBucketsCommand({}));
    return { kind: 'ok' };
  } catch (err) {
    return classify(err);
  }
}

/**
 * Writes a small object with an x-amz-checksum-crc32c header and reads it back with checksum mode: true when the
 * store keeps S3's additional checksums (AWS, newer Ceph), false when it ignores them (Ceph 16, Swift).
 */
export async function probeAdditionalChecksums(client: S3Client, bucket: string, key: string, body: Buffer): Promise<{ etag: string; kept: boolean }> {
  const rethrow = (err: unknown): never => {
    throw toStoreError(err);
  };
  const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'CRC32C' })).catch(rethrow);
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' })).catch(rethrow);
  return { etag: (put.ETag ?? head.ETag ?? '').replace(/"/g, ''), kept: typeof head.ChecksumCRC32C === 'string' && head.ChecksumCRC32C !== '' };
}

/** The name of an S3 error (`InvalidPart`, `BadDigest`, …) and its HTTP status, or undefined when it is none. */
export function s3ErrorOf(err: unknown): { name: string; status?: number; description: string } | undefined {
  const a = classify(err);
  return a.kind === 's3-error' ? { name: a.name, ...(a.status !== undefined ? { status: a.status } : {}), description: a.description } : undefined;
}

function classify(raw: unknown): ServiceAnswer {
  const err = toStoreError(raw);
  const description = describeStoreError(err);
  if (!StoreError.is(err)) return { kind: 'unreachable', description };
  if (err.kind === 'not-s3' || (err.status !== undefined && /^(HTTP\d+|Error|UnknownError)$/.test(err.code)) || err.status === 501 || err.status === 405) {
    return { kind: 'not-s3', description: `HTTP ${err.status ?? '?'}, ${err.message}` };
  }
  if (err.status === undefined) return { kind: 'unreachable', description };
  return { kind: 's3-error', name: err.code, status: err.status, description };
}
