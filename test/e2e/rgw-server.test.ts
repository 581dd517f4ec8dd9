// Proves the real-S3 test infrastructure: the server checks what diskless relies on (integrity, part sizes,
// permissions), and an extra gateway can be hung and crashed on demand without touching the shared one.
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestBucket,
  listKeys,
  listOpenUploads,
  makeTestClient,
  startExtraGateway,
  testS3,
  type ExtraGateway,
} from '../support/s3-test-env.js';
import { skipBecause } from '../support/skip.js';

const MiB = 1024 * 1024;
const md5 = (data: Buffer | string): Buffer => createHash('md5').update(data).digest();
const s3 = testS3();

describe('the S3 test server', () => {
  let client: S3Client;
  let bucket: string;

  beforeAll(async () => {
    client = makeTestClient();
    bucket = await createTestBucket('rgw-server');
  });
  afterAll(() => client?.destroy());

  it('accepts a PutObject with the right Content-MD5 and rejects a wrong one with BadDigest', async () => {
    const body = Buffer.from('the body');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'md5-ok', Body: body, ContentMD5: md5(body).toString('base64') }));
    await expect(
      client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'md5-bad', Body: body, ContentMD5: md5('another body').toString('base64') }),
      ),
    ).rejects.toMatchObject({ name: 'BadDigest' });
    expect(await listKeys(bucket, 'md5-')).toEqual(['md5-ok']);
  });

  it('refuses to complete a multipart upload whose non-last part is 1 MiB with EntityTooSmall, leaving it open until aborted', async () => {
    const Key = 'too-small';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const parts = [];
    for (const [i, size] of [1 * MiB, 1000].entries()) {
      const { ETag } = await client.send(
        new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1, Body: Buffer.alloc(size, i + 1) }),
      );
      parts.push({ PartNumber: i + 1, ETag });
    }
    await expect(
      client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
    ).rejects.toMatchObject({ name: 'EntityTooSmall' });
    expect((await listOpenUploads(bucket)).map((u) => u.UploadId)).toContain(UploadId);

    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }));
    expect((await listOpenUploads(bucket)).map((u) => u.UploadId)).not.toContain(UploadId);
    expect(await listKeys(bucket, Key)).toEqual([]);
  });

  it('gives a completed multipart object the composite ETag md5(part md5s)-N on HeadObject', async () => {
    const Key = 'composite';
    const bodies = [Buffer.alloc(5 * MiB, 7), Buffer.from('last part')];
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    const parts = [];
    for (const [i, Body] of bodies.entries()) {
      const { ETag } = await client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: i + 1, Body }));
      parts.push({ PartNumber: i + 1, ETag });
    }
    const complete = await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts } }),
    );
    const expected = `"${md5(Buffer.concat(bodies.map((b) => md5(b)))).toString('hex')}-2"`;
    // Known RGW 16 gap: the Complete response carries an empty ETag; HeadObject has the real one.
    expect(['', undefined, expected]).toContain(complete.ETag);
    expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key }))).ETag).toBe(expected);
  });

  it('lists every key under a prefix across pages', async () => {
    const keys = ['page/a', 'page/b', 'page/c', 'page/d', 'page/e'];
    for (const Key of [...keys, 'elsewhere']) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    expect(await listKeys(bucket, 'page/', { pageSize: 2 })).toEqual(keys);
  });

  it('denies the second user any access to a bucket of the first user', async (ctx) => {
    if (!s3.otherAccessKeyId) skipBecause(ctx, 'the S3 server has no second user (set DISKLESS_TEST_S3_OTHER_ACCESS_KEY and _OTHER_SECRET_KEY)');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'private', Body: 'secret' }));
    const other = makeTestClient({ user: 'other' });
    try {
      await expect(other.send(new ListObjectsV2Command({ Bucket: bucket }))).rejects.toMatchObject({ name: 'AccessDenied' });
      await expect(other.send(new GetObjectCommand({ Bucket: bucket, Key: 'private' }))).rejects.toMatchObject({
        name: 'AccessDenied',
      });
      await expect(other.send(new PutObjectCommand({ Bucket: bucket, Key: 'intruder', Body: 'x' }))).rejects.toMatchObject({
        name: 'AccessDenied',
      });
      // The second user is valid, just not allowed here.
      await other.send(new ListBucketsCommand({}));
    } finally {
      other.destroy();
    }
  });
});

describe.skipIf(!s3.canStartGateways)('an extra gateway (local Ceph cluster only)', () => {
  let gateway: ExtraGateway | undefined;
  let bucket: string;
  const main = (): S3Client => makeTestClient();
  /** A fresh client per call: no pooled keep-alive socket from an earlier phase, no retry. */
  const direct = (requestTimeoutMs?: number): S3Client =>
    makeTestClient({ endpoint: gateway!.endpoint, maxAttempts: 1, requestTimeoutMs });

  beforeAll(async () => {
    bucket = await createTestBucket('gateway');
    const started = Date.now();
    gateway = await startExtraGateway('infra');
    console.log(`extra gateway ${gateway.name} on ${gateway.endpoint} started in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('serves the buckets of the shared cluster on its own port', async () => {
    const c = direct();
    try {
      await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'via-gateway', Body: 'hello' }));
    } finally {
      c.destroy();
    }
    const m = main();
    try {
      const got = await m.send(new GetObjectCommand({ Bucket: bucket, Key: 'via-gateway' }));
      expect(await got.Body!.transformToString()).toBe('hello');
    } finally {
      m.destroy();
    }
  });

  it('makes a request with a 2 s timeout fail with a TimeoutError while paused, instead of hanging', async () => {
    await gateway!.pause();
    const c = direct(2_000);
    const started = Date.now();
    try {
      await expect(c.send(new ListObjectsV2Command({ Bucket: bucket }))).rejects.toMatchObject({ name: 'TimeoutError' });
    } finally {
      c.destroy();
    }
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(10_000);
    // The shared gateway is not affected.
    const m = main();
    try {
      await m.send(new ListObjectsV2Command({ Bucket: bucket }));
    } finally {
      m.destroy();
    }
  });

  it('answers again once resumed', async () => {
    await gateway!.resume();
    const c = direct(10_000);
    try {
      expect(await listKeys(bucket, undefined, { client: c })).toContain('via-gateway');
    } finally {
      c.destroy();
    }
  });

  it('refuses connections once killed', async () => {
    await gateway!.kill();
    const c = direct(5_000);
    try {
      await expect(c.send(new ListObjectsV2Command({ Bucket: bucket }))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      c.destroy();
    }
  });
});
