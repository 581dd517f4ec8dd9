import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/checksum/crc32c.js';
import { compositeCrc32c } from '../../src/upload/part-checksum.js';
import { runDiskless } from '../support/cli.js';
import { startDiscardSink } from '../support/discard-sink.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;
const once = (b: Buffer) => (async function* () { yield b; })();
const pieces = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest();

describe('part checksums (--part-checksum) on Ceph RGW 16, which ignores CRC32C part checksums', () => {
  let bucket: string;
  let endpoint: string[];
  beforeAll(async () => {
    bucket = await createTestBucket('partcrc');
    endpoint = ['--endpoint-url', testS3().endpoint];
  });

  it('sends Content-MD5 with every part by default (auto), and the object has the ETag of those MD5s', async () => {
    const data = execFileSync('head', ['-c', String(12 * MiB + 7), '/dev/urandom'], { maxBuffer: 13 * MiB });
    const put = await runDiskless(['put', ...endpoint, '-v', '--part-size', '5MiB', `s3://${bucket}/auto.bin`], { env: cliEnv(), stdin: once(data) });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toContain('parts carry Content-MD5');
    const parts = pieces(data, 5 * MiB).map(md5);
    const etag = `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-3`;
    const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: 'auto.bin' }));
    expect(head.ETag).toBe(`"${etag}"`);
  });

  it('refuses --part-checksum crc32c before anything is stored, naming the fix, and leaves no upload open', async () => {
    const put = await runDiskless(['put', ...endpoint, '--part-checksum', 'crc32c', `s3://${bucket}/refused.bin`], { env: cliEnv(), stdin: once(Buffer.alloc(MiB)) });
    expect(put.code).toBe(3);
    expect(put.stderr).toMatch(/did not take CRC32C part checksums.*use --part-checksum md5 \(or auto\)/);
    expect(await listKeys(bucket, 'refused')).toEqual([]);
    expect(await listOpenUploads(bucket)).toEqual([]);
  });
});

describe('part checksums (--part-checksum) on a store that takes CRC32C part checksums as AWS does (the discard sink)', () => {
  it('sends every part with a CRC32C the store verifies and no MD5 (auto), and the object reads back whole with its composite CRC32C', async () => {
    const sink = await startDiscardSink();
    const data = execFileSync('node', ['bench/discard-sink.mjs', '--generate', String(17 * MiB)], { maxBuffer: 18 * MiB });
    let totals: Record<string, number> = {};
    try {
      const endpoint = ['--endpoint-url', sink.endpoint];
      const put = await runDiskless(['put', ...endpoint, '-v', '--part-size', '5MiB', 's3://sink/crc.bin'], { env: cliEnv(), stdin: once(data) });
      expect(put.code, put.stderr).toBe(0);
      expect(put.stderr).toContain('parts carry CRC32C checksums the store verifies');
      const head = await fetch(`${sink.endpoint}/sink/crc.bin`, { method: 'HEAD', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
      expect(head.headers.get('x-amz-checksum-crc32c')).toBe(compositeCrc32c(pieces(data, 5 * MiB).map((p) => crc32c(p))));
      const got = await runDiskless(['get', ...endpoint, 's3://sink/crc.bin'], { env: cliEnv() });
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdoutSha256).toBe(createHash('sha256').update(data).digest('hex'));
    } finally {
      totals = await sink.stop();
    }
    expect(totals['partsCrc32c']).toBe(4);
    expect(totals['partsContentMd5']).toBe(0);
  });

  it('sends Content-MD5 with --part-checksum md5, though the store takes CRC32C', async () => {
    const sink = await startDiscardSink();
    let totals: Record<string, number> = {};
    try {
      const put = await runDiskless(['put', '--endpoint-url', sink.endpoint, '--part-size', '5MiB', '--part-checksum', 'md5', 's3://sink/md5.bin'], {
        env: cliEnv(),
        stdin: once(Buffer.alloc(11 * MiB, 7)),
      });
      expect(put.code, put.stderr).toBe(0);
    } finally {
      totals = await sink.stop();
    }
    expect(totals['partsContentMd5']).toBe(3);
    expect(totals['partsCrc32c']).toBe(0);
  });
});
