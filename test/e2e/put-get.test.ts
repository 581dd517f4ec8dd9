import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, randomStream, randomStreamSha256, runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('put and get against Ceph RGW', () => {
  let bucket: string;
  let env: Record<string, string>;
  let endpoint: string[];

  beforeAll(async () => {
    bucket = await createTestBucket('putget');
    env = cliEnv();
    endpoint = ['--endpoint-url', testS3().endpoint];
  });

  async function roundTrip(size: number, key: string, extra: string[] = []) {
    const { stream, digest } = randomStream(size, key);
    const put = await runDiskless(['put', ...endpoint, ...extra, `s3://${bucket}/${key}`], { env, stdin: stream });
    expect(put.stderr).toMatch(/stored s3:/);
    expect(put.code, put.stderr).toBe(0);
    const got = await runDiskless(['get', ...endpoint, `s3://${bucket}/${key}`], { env });
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdoutBytes).toBe(size);
    expect(got.stdoutSha256).toBe(await digest);
    // Only diskless's own lines: no Node or SDK warnings (e.g. a listener leak on a slow reader).
    for (const r of [put, got]) expect(r.stderr.trim().split('\n').every((l) => l.startsWith('diskless: '))).toBe(true);
    return { put, got };
  }

  it('stores 1 GiB of random data and gets it back byte-identical, with the ETag HeadObject reports', async () => {
    const { put } = await roundTrip(1 * GiB, 'big/1gib.bin');
    const etag = /ETag ([0-9a-f]{32}-\d+)/.exec(put.stderr)?.[1];
    const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: 'big/1gib.bin' }));
    expect(etag).toBeDefined();
    expect(head.ETag).toBe(`"${etag}"`);
    expect(head.ContentLength).toBe(1 * GiB);
  }, 600_000);

  it('stores a stream of 5 MiB + 1 byte (a full part and a 1-byte part)', async () => {
    const { put } = await roundTrip(5 * MiB + 1, 'edge/5mib-plus-1', ['--part-size', '5MiB']);
    expect(put.stderr).toMatch(/in 1 object, 2 parts/);
  });

  it('stores an empty stream as an empty object with --allow-empty', async () => {
    const { put } = await roundTrip(0, 'edge/empty', ['--allow-empty']);
    expect(put.stderr).toMatch(/0 B \(0 bytes\) in 1 object, 1 part/);
  });

  it('continues a 1.2 GiB stream in continuation objects past --max-parts and gets it back whole', async () => {
    const size = Math.round(1.2 * GiB);
    const { put, got } = await roundTrip(size, 'chain/stream.bin', ['--part-size', '5MiB', '--max-parts', '100']);
    const objects = Number(/in (\d+) objects \(a chain\)/.exec(put.stderr)?.[1]);
    expect(objects).toBeGreaterThanOrEqual(3);
    expect(got.stderr).toMatch(new RegExp(`from ${objects} objects`));
    const keys = await listKeys(bucket, 'chain/');
    expect(keys.filter((k) => k.includes('.diskless-cont-'))).toHaveLength(objects - 1);
    expect(keys).toContain('chain/stream.bin.diskless-chain.json');
  }, 600_000);

  it('commits nothing when the command exits non-zero, and names its status', async () => {
    const put = await runDiskless(
      ['put', ...endpoint, `s3://${bucket}/failed/x.bin`, '--', 'sh', '-c', 'head -c 50M /dev/urandom; exit 3'],
      { env },
    );
    expect(put.code).toBe(5);
    expect(put.stderr).toMatch(/exited with status 3/);
    expect(await listKeys(bucket, 'failed/')).toEqual([]);
    expect(await listOpenUploads(bucket)).toEqual([]);
  });

  it('commits the stdout of a command that exits 0', async () => {
    const put = await runDiskless(['put', ...endpoint, `s3://${bucket}/cmd/ok.txt`, '--', 'sh', '-c', 'echo hello; echo world'], { env });
    expect(put.code, put.stderr).toBe(0);
    const got = await runDiskless(['get', ...endpoint, `s3://${bucket}/cmd/ok.txt`], { env });
    expect(got.stdout?.toString()).toBe('hello\nworld\n');
  });

  it('reads stdin straight from a shell pipe and from a redirected file', async () => {
    const work = mkdtempSync(join(tmpdir(), 'diskless-stdin-'));
    const file = join(work, 'in.bin');
    execFileSync('sh', ['-c', `head -c ${20 * MiB} /dev/urandom > ${file}`]);
    const want = createHash('sha256').update(readFileSync(file)).digest('hex');
    const url = `s3://${bucket}/stdin/`;
    const e = endpoint.join(' ');
    execFileSync('bash', ['-c', `set -o pipefail; cat ${file} | ${DISKLESS_BIN} put ${e} ${url}pipe && ${DISKLESS_BIN} put ${e} ${url}file < ${file}`], { env });
    for (const key of ['pipe', 'file']) {
      const got = await runDiskless(['get', ...endpoint, `${url}${key}`], { env });
      expect(got.stdoutSha256, key).toBe(want);
    }
  });

  it('get into a reader that stops early (head -c 1) fails at once, naming the output that went away, and does not hang', async () => {
    const { stream } = randomStream(40 * MiB, 'early');
    const put = await runDiskless(['put', ...endpoint, `s3://${bucket}/early/x.bin`], { env, stdin: stream });
    expect(put.code, put.stderr).toBe(0);
    const out = execFileSync(
      'bash',
      ['-c', `${DISKLESS_BIN} get ${endpoint.join(' ')} s3://${bucket}/early/x.bin 2>&1 > >(head -c 1 >/dev/null) | cat; echo "exit=\${PIPESTATUS[0]}"`],
      { env, timeout: 60_000 },
    ).toString();
    expect(out).toMatch(/went away/);
    expect(out).toMatch(/exit=5$/m);
  });

  it('computes the SHA-256 of the stream when asked, as sha256sum would', async () => {
    const size = 9 * MiB;
    const { stream } = randomStream(size, 'sha');
    const put = await runDiskless(['put', ...endpoint, '--sha256', `s3://${bucket}/sha/x`], { env, stdin: stream });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toContain(`SHA-256 ${await randomStreamSha256(size, 'sha')}`);
  });

  it('writes with the requested storage class', async () => {
    const put = await runDiskless(
      ['put', ...endpoint, '--storage-class', 'STANDARD_IA', `s3://${bucket}/class/x`, '--', 'echo', 'x'],
      { env },
    );
    expect(put.code, put.stderr).toBe(0);
    const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: 'class/x' }));
    expect(head.StorageClass).toBe('STANDARD_IA');
  });

  it('encrypts with SSE-KMS and the given key when asked, and gets the data back', async () => {
    const { put } = await roundTrip(12 * MiB, 'sse/kms.bin', ['--sse', 'aws:kms', '--sse-kms-key-id', 'testkey-1']);
    expect(put.code).toBe(0);
    const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: 'sse/kms.bin' }));
    expect(head.ServerSideEncryption).toBe('aws:kms');
    expect(head.SSEKMSKeyId).toBe('testkey-1');
  });

  it('takes credentials from a named profile of the shared credentials file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-aws-'));
    const s3 = testS3();
    writeFileSync(join(dir, 'credentials'), `[backup]\naws_access_key_id = ${s3.accessKeyId}\naws_secret_access_key = ${s3.secretAccessKey}\n`);
    const profileEnv: Record<string, string> = { ...env, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials') };
    delete profileEnv['AWS_ACCESS_KEY_ID'];
    delete profileEnv['AWS_SECRET_ACCESS_KEY'];
    const put = await runDiskless(['put', ...endpoint, '--profile', 'backup', `s3://${bucket}/profile/x`, '--', 'echo', 'p'], { env: profileEnv });
    expect(put.code, put.stderr).toBe(0);
    const missing = await runDiskless(['put', ...endpoint, '--profile', 'nosuch', `s3://${bucket}/profile/y`, '--', 'echo', 'p'], { env: profileEnv });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/no AWS credentials found/);
  });

  it('reads the endpoint from AWS_ENDPOINT_URL_S3 when --endpoint-url is not given', async () => {
    const put = await runDiskless(['put', `s3://${bucket}/envendpoint/x`, '--', 'echo', 'e'], {
      env: { ...env, AWS_ENDPOINT_URL_S3: testS3().endpoint },
    });
    expect(put.code, put.stderr).toBe(0);
  });

  it('leaves no multipart upload open after all of the above', async () => {
    expect(await listOpenUploads(bucket)).toEqual([]);
  });
});
