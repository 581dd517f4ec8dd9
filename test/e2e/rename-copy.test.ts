import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { VirtualFiles } from '../../src/ingest/virtual-files.js';
import { S3ObjectStore } from '../../src/s3/s3-object-store.js';
import { silentLogger } from '../../src/util/log.js';
import { objectBytes, sha256 } from '../support/run-helpers.js';
import { createTestBucket, listKeys, listOpenUploads, makeTestClient } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('rename of a virtual file too large for CopyObject, on RGW', () => {
  it('copies it part by part with UploadPartCopy (limit lowered to 5 MiB here; 5 GiB in use), then deletes the old key', async () => {
    const bucket = await createTestBucket('pcopy');
    const client = makeTestClient();
    const data = randomBytes(12 * MiB + 7);
    // As diskless writes it: with the writer id that proves whose object it is (upload/owned-object.ts).
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'run/old.bin', Body: data, Metadata: { 'diskless-writer': 'w-test' } }));
    const store = new S3ObjectStore(client, 'rgw');
    const retry = { retryForMs: 10_000, baseDelayMs: 50, maxDelayMs: 500 };
    const files = new VirtualFiles({ store, bucket, prefix: 'run/', settings: {}, retry, log: silentLogger, singleCopyLimit: 5 * MiB, copyPartSize: 5 * MiB });
    const f = files.beginWrite('old.bin', 0o1101);
    const summary = { bucket, key: 'run/old.bin', size: data.length, etag: put.ETag!.replace(/"/g, ''), parts: 1, partSizes: [data.length], crc32c: 'AAAAAA==', writer: 'w-test' };
    await files.committed(f, { ...summary, objects: [summary], elapsedMs: 1 });
    await files.rename('old.bin', 'new.bin');
    expect(sha256(await objectBytes(bucket, 'run/new.bin'))).toBe(sha256(data));
    expect(await listKeys(bucket, 'run/')).toEqual(['run/new.bin']);
    expect(await listOpenUploads(bucket)).toEqual([]);
    expect(files.list()[0]?.objects?.[0]).toMatchObject({ key: 'run/new.bin', parts: 3, partSizes: [5 * MiB, 2 * MiB + 7] });
  });
});
