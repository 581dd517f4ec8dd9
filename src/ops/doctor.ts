import type { S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { describeError } from '../errors.js';
import { checkWritable } from '../preflight.js';
import { getLifecycleRules } from '../s3/bucket-config.js';
import { probeAdditionalChecksums, probeService, s3ErrorOf } from '../s3/store-probes.js';
import { parseS3Url } from '../s3/s3-url.js';
import { compositeEtag } from '../upload/etag.js';
import type { CompletedPart, ObjectRef, ObjectStore } from '../upload/object-store.js';
import { openSession, type SessionOptions } from './session.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'info';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export interface DoctorReport {
  endpoint: string;
  bucket?: string;
  checks: DoctorCheck[];
  /** Flags diskless should be given for this store. */
  flags: string[];
  /** false when a check failed: diskless will not work as set up. */
  ok: boolean;
}

export interface DoctorOptions extends SessionOptions {
  /** `s3://BUCKET[/PREFIX]`: also probe writes, multipart behaviour and lifecycle there. */
  url?: string;
  env?: Record<string, string | undefined>;
}

const MiB = 1024 * 1024;

/**
 * `diskless doctor`: probes an S3 endpoint (and a bucket) for what diskless relies on and says what it found, with
 * the flags to use and the fix for what will not work. It writes only objects under a random probe name, and deletes
 * only those, after checking they are still the ones it wrote.
 */
export async function doctor(options: DoctorOptions): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const checks: DoctorCheck[] = [];
  const flags: string[] = [];
  const endpoint = options.connection?.endpointUrl ?? 'AWS S3 (no --endpoint-url)';
  const report = (): DoctorReport => ({
    endpoint,
    ...(options.url ? { bucket: parseS3Url(options.url, 'bucket').bucket } : {}),
    checks,
    flags,
    ok: !checks.some((c) => c.status === 'fail'),
  });

  checks.push({ name: 'credentials', status: 'info', detail: credentialSource(options, env) });
  let session;
  try {
    session = await openSession(options);
  } catch (err) {
    checks[checks.length - 1] = { name: 'credentials', status: 'fail', detail: describeError(err) };
    return report();
  }
  try {
    const client = session.client!;
    const region = await client.config.region();
    const pathStyle = client.config.forcePathStyle ?? false;
    checks.push({ name: 'addressing', status: 'info', detail: `region ${region}, ${pathStyle ? 'path-style' : 'virtual-hosted'} URLs` });

    const service = await probeService(client);
    if (service.kind === 'not-s3') {
      checks.push({
        name: 'service',
        status: 'fail',
        detail: `${endpoint} answers, but does not speak S3 (${service.description})`,
        fix: 'point --endpoint-url at the S3 API of the store (e.g. http://host:port of its S3 gateway)',
      });
      return report();
    }
    if (service.kind === 'unreachable') {
      checks.push({ name: 'service', status: 'fail', detail: `cannot reach ${endpoint}: ${service.description}`, fix: 'check --endpoint-url and the network' });
      return report();
    }
    if (service.kind === 's3-error') {
      const fatal = ['InvalidAccessKeyId', 'SignatureDoesNotMatch'].includes(service.name);
      checks.push({
        name: 'service',
        status: fatal ? 'fail' : 'info',
        detail: fatal ? `the store refuses these credentials: ${service.description}` : `S3 answers; ListBuckets refused (${service.description}), normal for a key limited to one bucket`,
        ...(fatal ? { fix: 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or --profile' } : {}),
      });
      if (fatal) return report();
    } else {
      checks.push({ name: 'service', status: 'ok', detail: 'S3 answers ListBuckets with these credentials' });
    }
    if (!options.url) return report();

    const loc = parseS3Url(options.url, 'bucket');
    const probeKey = `${loc.key}.diskless-doctor-${randomBytes(4).toString('hex')}`;
    try {
      const { crc32c } = await checkWritable(session.store, { bucket: loc.bucket, key: probeKey }, session.retry, { crc32c: true });
      checks.push({ name: 'write', status: 'ok', detail: `may write under s3://${loc.bucket}/${loc.key}` });
      // What --part-checksum auto chooses: the same question, asked by the same write check.
      checks.push({
        name: 'part checksums',
        status: 'info',
        detail: crc32c
          ? 'the store takes CRC32C part checksums: parts carry a CRC32C it verifies, and no MD5 is computed (--part-checksum auto)'
          : 'the store does not take CRC32C part checksums: parts carry Content-MD5 (--part-checksum auto; crc32c would be refused)',
      });
    } catch (err) {
      checks.push({ name: 'write', status: 'fail', detail: describeError(err) });
      return report();
    }
    const written: Array<{ ref: ObjectRef; etag: string }> = [];
    try {
      await probeContentMd5(session.store, { bucket: loc.bucket, key: `${probeKey}-md5` }, checks, written);
      await probeMultipart(session.store, { bucket: loc.bucket, key: `${probeKey}-mpu` }, checks, flags, written);
      try {
        const body = randomBytes(1024);
        const r = await probeAdditionalChecksums(client, loc.bucket, `${probeKey}-crc`, body);
        written.push({ ref: { bucket: loc.bucket, key: `${probeKey}-crc` }, etag: r.etag || md5hex(body) });
        checks.push({
          name: 'additional checksums',
          status: 'info',
          detail: r.kept
            ? 'the store keeps x-amz-checksum-crc32c (S3 additional checksums)'
            : 'the store ignores S3 additional checksums; diskless relies on Content-MD5 and the composite ETag',
        });
      } catch (err) {
        checks.push({ name: 'additional checksums', status: 'info', detail: `not supported (${s3ErrorOf(err)?.description ?? describeError(err)}); diskless relies on Content-MD5 and the composite ETag` });
      }
      const limit = partLimit(endpoint);
      checks.push({ name: 'part limit', status: 'info', detail: `${limit.parts.toLocaleString('en-US')} parts per object (${limit.source})` });
      if (limit.parts < 10_000) flags.push(`--max-parts ${limit.parts}`);
      await probeLifecycle(client, loc.bucket, loc.key, checks);
    } finally {
      for (const w of written) await deleteIfStillOurs(session.store, w.ref, w.etag, checks);
    }
    return report();
  } finally {
    session.close();
  }
}

async function probeContentMd5(store: ObjectStore, ref: ObjectRef, checks: DoctorCheck[], written: Array<{ ref: ObjectRef; etag: string }>): Promise<void> {
  const body = randomBytes(4096);
  const wrong = createHash('md5').update('not the body').digest('base64');
  try {
    const r = await store.putObject({ ...ref, body: [body], contentLength: body.length, contentMd5: wrong, settings: {} });
    written.push({ ref, etag: r.etag || md5hex(body) });
    checks.push({
      name: 'Content-MD5',
      status: 'warn',
      detail: 'the store accepted a body whose Content-MD5 did not match: damaged parts are not refused on the way in',
      fix: 'diskless still checks the composite ETag after Complete; prefer a store that checks Content-MD5',
    });
  } catch (err) {
    const e = s3ErrorOf(err);
    checks.push(
      e && /BadDigest|InvalidDigest/.test(e.name)
        ? { name: 'Content-MD5', status: 'ok', detail: `a wrong Content-MD5 is refused (${e.name})` }
        : { name: 'Content-MD5', status: 'warn', detail: `a wrong Content-MD5 gave an unexpected answer: ${e?.description ?? describeError(err)}` },
    );
  }
}

/** Three parts of unequal sizes (5 MiB, 6 MiB, 1 byte), then, if refused, equal ones; checks the composite ETag. */
async function probeMultipart(
  store: ObjectStore,
  ref: ObjectRef,
  checks: DoctorCheck[],
  flags: string[],
  written: Array<{ ref: ObjectRef; etag: string }>,
): Promise<void> {
  const attempt = async (sizes: number[]) => {
    const { uploadId } = await store.createMultipartUpload(ref, {});
    try {
      const parts: CompletedPart[] = [];
      const md5s: Buffer[] = [];
      for (const [i, size] of sizes.entries()) {
        const body = randomBytes(size);
        const md5 = createHash('md5').update(body).digest();
        md5s.push(md5);
        const r = await store.uploadPart({ ...ref, uploadId, partNumber: i + 1, body: [body], contentLength: size, check: { contentMd5: md5.toString('base64') } });
        parts.push({ partNumber: i + 1, etag: r.etag });
      }
      await store.completeMultipartUpload(ref, uploadId, parts);
      return compositeEtag(md5s);
    } catch (err) {
      await store.abortMultipartUpload(ref, uploadId).catch(() => undefined);
      throw err;
    }
  };
  let expected: string;
  try {
    expected = await attempt([5 * MiB, 6 * MiB, 1]);
    checks.push({ name: 'unequal parts', status: 'ok', detail: 'parts of different sizes are accepted (diskless grows its parts)' });
  } catch (err) {
    const e = s3ErrorOf(err);
    if (!e || !/InvalidPart|EntityTooSmall|InvalidRequest/.test(e.name)) {
      checks.push({ name: 'multipart upload', status: 'fail', detail: `a multipart upload failed: ${e?.description ?? describeError(err)}` });
      return;
    }
    flags.push('--equal-parts');
    checks.push({ name: 'unequal parts', status: 'warn', detail: `parts of different sizes are refused (${e.description})`, fix: 'give diskless --equal-parts' });
    try {
      expected = await attempt([5 * MiB, 5 * MiB, 1]);
    } catch (err2) {
      checks.push({ name: 'multipart upload', status: 'fail', detail: `a multipart upload of equal parts failed too: ${describeError(err2)}` });
      return;
    }
  }
  const head = await store.headObject(ref);
  if (head) written.push({ ref, etag: head.etag });
  if (head?.etag === expected) {
    checks.push({ name: 'multipart ETag', status: 'ok', detail: `composite ETag as S3 makes it (${expected}): diskless can check every upload` });
  } else {
    checks.push({
      name: 'multipart ETag',
      status: 'fail',
      detail: `HeadObject's ETag is ${head ? `"${head.etag}"` : 'missing'}, not S3's composite "${expected}": diskless's check after Complete would reject every multipart upload`,
      fix: 'use an S3 implementation that returns composite multipart ETags (AWS, Ceph RGW, MinIO, R2, Swift s3api)',
    });
  }
}

async function probeLifecycle(client: S3Client, bucket: string, prefix: string, checks: DoctorCheck[]): Promise<void> {
  try {
    const rules = await getLifecycleRules(client, bucket);
    const covering = rules.find((r) => {
      const p = (r.Filter?.Prefix ?? (r['Prefix'] as string | undefined) ?? '') as string;
      return r.Status === 'Enabled' && r.AbortIncompleteMultipartUpload && prefix.startsWith(p);
    });
    checks.push(
      covering
        ? { name: 'lifecycle', status: 'ok', detail: `rule "${covering.ID ?? '(no ID)'}" aborts incomplete uploads after ${covering.AbortIncompleteMultipartUpload!.DaysAfterInitiation} days` }
        : {
            name: 'lifecycle',
            status: 'warn',
            detail: 'no lifecycle rule aborts incomplete multipart uploads here: uploads of killed runs cost storage until `diskless gc`',
            fix: `diskless setup-bucket s3://${bucket}${prefix ? `/${prefix}` : ''} (where the store has bucket lifecycle; otherwise run diskless gc after each backup)`,
          },
    );
  } catch (err) {
    checks.push({
      name: 'lifecycle',
      status: 'warn',
      detail: `the store has no bucket lifecycle (${s3ErrorOf(err)?.description ?? describeError(err)})`,
      fix: 'run `diskless gc` regularly (e.g. after each backup) to abort uploads left by killed runs',
    });
  }
}

/** Deletes a probe object only if it still has the ETag this run wrote (never another writer's object). */
async function deleteIfStillOurs(store: ObjectStore, ref: ObjectRef, etag: string, checks: DoctorCheck[]): Promise<void> {
  try {
    const head = await store.headObject(ref);
    if (!head) return;
    if (head.etag !== etag) {
      checks.push({ name: 'cleanup', status: 'warn', detail: `s3://${ref.bucket}/${ref.key} changed since this probe wrote it: left alone` });
      return;
    }
    await store.deleteObject(ref);
  } catch (err) {
    checks.push({ name: 'cleanup', status: 'warn', detail: `could not delete the probe object s3://${ref.bucket}/${ref.key}: ${describeError(err)}` });
  }
}

function credentialSource(options: DoctorOptions, env: Record<string, string | undefined>): string {
  if (options.connection?.profile) return `profile "${options.connection.profile}" of the shared AWS files (--profile)`;
  if (env['AWS_ACCESS_KEY_ID']) return `environment (AWS_ACCESS_KEY_ID=${env['AWS_ACCESS_KEY_ID'].slice(0, 4)}…)`;
  if (env['AWS_PROFILE']) return `profile "${env['AWS_PROFILE']}" of the shared AWS files (AWS_PROFILE)`;
  return 'the SDK default chain: shared AWS files (default profile), then an instance or container role';
}

function partLimit(endpoint: string): { parts: number; source: string } {
  if (/scw\.cloud|scaleway/i.test(endpoint)) return { parts: 1000, source: 'Scaleway' };
  return { parts: 10_000, source: /^AWS/.test(endpoint) ? 'AWS' : 'S3 standard; this store may have its own' };
}

function md5hex(body: Buffer): string {
  return createHash('md5').update(body).digest('hex');
}
