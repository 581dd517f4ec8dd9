import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectExistsError } from '../../src/errors.js';
import { createHttpTransport, createS3Client } from '../../src/s3/s3-client.js';
import { S3ObjectStore } from '../../src/s3/s3-object-store.js';
import { StoreError } from '../../src/store-error.js';
import type { PutRequest } from '../../src/upload/object-store.js';
import { createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';

/** A store wired as openSession wires it (ops/session.ts), without its credentials check: the client and the direct requests share one transport. */
function storeAs(credentials: { accessKeyId: string; secretAccessKey: string }) {
  vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
  const s3 = testS3();
  const conn = { endpointUrl: s3.endpoint, region: s3.region, requestTimeoutMs: 10_000 };
  const transport = createHttpTransport(conn);
  const client = createS3Client(conn, transport);
  const send = vi.spyOn(client, 'send');
  return { store: new S3ObjectStore(client, 'rgw', transport), client, send };
}

function putRequest(bucket: string, key: string, body: Buffer, extra: Partial<PutRequest> = {}): PutRequest {
  return { bucket, key, body: [body], contentLength: body.length, contentMd5: createHash('md5').update(body).digest('base64'), settings: {}, ...extra };
}

const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

describe('PutObject of a one-piece body and GetObject, sent without the SDK middleware (direct-requests.ts), on RGW', () => {
  let bucket: string;
  const reader = () => makeTestClient();
  beforeAll(async () => {
    bucket = await createTestBucket('direct-put');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  it('stores keys with spaces, unicode, reserved and escaped characters byte for byte, signed as RGW expects, without an SDK request', async () => {
    const { store, send } = storeAs(testS3());
    const keys = [
      'plain/file.bin',
      'dir with spaces/a b.sql',
      'unicode/żółć-数据-😀.txt',
      "reserved/!'()*+,;=:@&$.bin",
      'escapes/100%25 ~tilde~ [x] {y} ^z` "q" #h ?.bin',
      'double//slash/./dot/../x',
    ];
    for (const key of keys) {
      const body = randomBytes(3000 + key.length);
      const { etag } = await store.putObject(putRequest(bucket, key, body));
      expect(etag).toBe(md5hex(body));
      const got = await reader().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    }
    expect(send).not.toHaveBeenCalled();
  });

  it('sends the write settings: content type, storage class and metadata, as HeadObject shows them', async () => {
    const { store } = storeAs(testS3());
    const body = Buffer.from('{"manifest":true}\n');
    const settings = { contentType: 'application/json', storageClass: 'STANDARD', metadata: { 'diskless-writer': 'w-123', Other: 'v' } };
    await store.putObject(putRequest(bucket, 'settings/m.json', body, { settings }));
    const head = await reader().send(new HeadObjectCommand({ Bucket: bucket, Key: 'settings/m.json' }));
    expect(head.ContentType).toBe('application/json');
    expect(head.Metadata).toEqual({ 'diskless-writer': 'w-123', other: 'v' });
    expect(head.ContentLength).toBe(body.length);
  });

  it('refuses to replace an object with If-None-Match (ObjectExistsError), and the first object stays', async () => {
    const { store } = storeAs(testS3());
    const first = Buffer.from('first');
    await store.putObject(putRequest(bucket, 'cond/k', first, { ifNoneMatch: true }));
    await expect(store.putObject(putRequest(bucket, 'cond/k', Buffer.from('second'), { ifNoneMatch: true }))).rejects.toBeInstanceOf(ObjectExistsError);
    const got = await reader().send(new GetObjectCommand({ Bucket: bucket, Key: 'cond/k' }));
    expect(await got.Body!.transformToString()).toBe('first');
  });

  it('fails a body that does not match its Content-MD5 as a checksum error (BadDigest), storing nothing', async () => {
    const { store } = storeAs(testS3());
    const req = putRequest(bucket, 'digest/k', Buffer.from('the bytes sent'), { contentMd5: createHash('md5').update('other bytes').digest('base64') });
    const err: unknown = await store.putObject(req).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'checksum', code: 'BadDigest', status: 400 });
    await expect(reader().send(new HeadObjectCommand({ Bucket: bucket, Key: 'digest/k' }))).rejects.toMatchObject({ name: 'NotFound' });
  });

  it('names wrong credentials and a missing bucket as the SDK path does (credentials, no-bucket)', async () => {
    const s3 = testS3();
    const badSecret = storeAs({ accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' }).store;
    await expect(badSecret.putObject(putRequest(bucket, 'auth/k', Buffer.from('x')))).rejects.toMatchObject({ kind: 'credentials', code: 'SignatureDoesNotMatch', status: 403 });
    const badKey = storeAs({ accessKeyId: 'NOSUCHACCESSKEY', secretAccessKey: 'x' }).store;
    await expect(badKey.putObject(putRequest(bucket, 'auth/k', Buffer.from('x')))).rejects.toMatchObject({ kind: 'credentials', code: 'InvalidAccessKeyId' });
    const { store } = storeAs(s3);
    await expect(store.putObject(putRequest(`${bucket}-missing`, 'k', Buffer.from('x')))).rejects.toMatchObject({ kind: 'no-bucket', code: 'NoSuchBucket', status: 404 });
  });

  it('reads an object back whole and by range, pinned to its ETag, and tells a missing key and a changed object apart, without an SDK request', async () => {
    const { store, send } = storeAs(testS3());
    const body = randomBytes(200_000);
    const key = 'get/a b+c.bin';
    const { etag } = await store.putObject(putRequest(bucket, key, body));
    const read = async (opts: { start?: number; end?: number; ifMatch?: string }) => {
      const got = await store.getObject({ bucket, key }, opts);
      const chunks: Buffer[] = [];
      for await (const c of got!.body) chunks.push(Buffer.from(c));
      return { got: got!, bytes: Buffer.concat(chunks) };
    };
    const whole = await read({ ifMatch: etag });
    expect(whole.bytes.equals(body)).toBe(true);
    expect(whole.got).toMatchObject({ size: body.length, etag });
    const range = await read({ start: 1000, end: 65_535, ifMatch: etag });
    expect(range.bytes.equals(body.subarray(1000, 65_536))).toBe(true);
    expect(range.got.size).toBe(64_536);
    expect((await read({ start: 199_990 })).bytes.equals(body.subarray(199_990))).toBe(true);
    await expect(store.getObject({ bucket, key: 'get/missing' })).resolves.toBeUndefined();
    await expect(store.getObject({ bucket, key }, { ifMatch: md5hex(Buffer.from('other')) })).rejects.toMatchObject({ code: 'PreconditionFailed', status: 412 });
    expect(send).not.toHaveBeenCalled();
  });

  it('reads ranges straight into a buffer over its own connections, pinned to the ETag, and tells a missing key and a changed object apart, without an SDK request', async () => {
    const { store, send } = storeAs(testS3());
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const key = 'into/a b+c.bin';
    const { etag } = await store.putObject(putRequest(bucket, key, body));
    const into = Buffer.alloc(1024 * 1024);
    for (const [start, end] of [[0, 1024 * 1024 - 1], [1000, 65_535], [body.length - 17, body.length - 1]] as const) {
      into.fill(0);
      await expect(store.getObjectInto({ bucket, key }, into, { start, end, ifMatch: etag })).resolves.toEqual({ length: end - start + 1, etag });
      expect(into.subarray(0, end - start + 1).equals(body.subarray(start, end + 1))).toBe(true);
    }
    // A range longer than the buffer is not read into it: its length says so.
    await expect(store.getObjectInto({ bucket, key }, Buffer.alloc(10), { start: 0, end: 99 })).resolves.toMatchObject({ length: 100 });
    await expect(store.getObjectInto({ bucket, key: 'into/missing' }, into, { start: 0, end: 9 })).resolves.toBeUndefined();
    await expect(store.getObjectInto({ bucket, key }, into, { start: 0, end: 9, ifMatch: md5hex(Buffer.from('other')) })).rejects.toMatchObject({ code: 'PreconditionFailed', status: 412 });
    expect(send).not.toHaveBeenCalled();
  });

  it('sends a body of several pieces through the SDK, as before', async () => {
    const { store, send } = storeAs(testS3());
    const parts = [randomBytes(1000), randomBytes(2000)];
    const whole = Buffer.concat(parts);
    const req = { ...putRequest(bucket, 'pieces/k', whole), body: parts };
    expect((await store.putObject(req)).etag).toBe(md5hex(whole));
    expect(send).toHaveBeenCalledTimes(1);
  });
});
