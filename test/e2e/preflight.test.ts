import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomStream, runDiskless, type CliResult } from '../support/cli.js';
import { cliEnv, createTestBucket, listOpenUploads, testS3 } from '../support/s3-test-env.js';

/**
 * Every preflight failure: a message that names the problem and the fix, a distinct exit code
 * (2 usage, 3 preflight), nothing read from the input and nothing left in the store.
 */
describe('put and get refuse to start when the target is not usable', () => {
  let bucket: string;
  let endpoint: string[];

  beforeAll(async () => {
    bucket = await createTestBucket('preflight');
    endpoint = ['--endpoint-url', testS3().endpoint];
  });

  /** Runs put with a command that would leave a marker file if it were ever started. */
  async function putWithMarker(args: string[], env = cliEnv()): Promise<CliResult & { started: boolean }> {
    const marker = join(mkdtempSync(join(tmpdir(), 'diskless-marker-')), 'started');
    const r = await runDiskless(['put', ...args, '--', 'sh', '-c', `touch ${marker}; echo data`], { env });
    return { ...r, started: existsSync(marker) };
  }

  it('rejects a target that is not an S3 URL with exit 2, naming the expected form', async () => {
    const r = await putWithMarker([...endpoint, 'https://example.com/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not an S3 URL; write it as s3:\/\/BUCKET\/KEY/);
    expect(r.started).toBe(false);
  });

  it('rejects a target without a key with exit 2', async () => {
    const r = await putWithMarker([...endpoint, `s3://${bucket}/`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names no object; write s3:\/\/.*\/path\/to\/object/);
  });

  it('rejects an impossible part size with exit 2, naming S3\'s minimum', async () => {
    const r = await putWithMarker([...endpoint, '--part-size', '1MiB', `s3://${bucket}/x`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--part-size must be at least 5 MiB/);
    expect(r.started).toBe(false);
  });

  it('refuses a command given without -- and shows the right form', async () => {
    const r = await runDiskless(['put', ...endpoint, `s3://${bucket}/x`, 'echo', 'hi'], { env: cliEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/put -- before it: diskless put s3:\/\/.* -- echo hi/);
  });

  it('fails with exit 3 when no credentials can be found, and says how to provide them', async () => {
    const env = cliEnv();
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const r = await putWithMarker([...endpoint, `s3://${bucket}/x`], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile with --profile/);
    expect(r.started).toBe(false);
  });

  it('fails with exit 3 when the bucket does not exist (NoSuchBucket)', async () => {
    const r = await putWithMarker([...endpoint, `s3://no-such-bucket-${Date.now()}/x`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bucket "no-such-bucket-\d+" does not exist \(NoSuchBucket\); create it or fix the URL/);
    expect(r.started).toBe(false);
  });

  it('fails with exit 3 when the credentials may not write to the bucket (AccessDenied)', async () => {
    const r = await putWithMarker([...endpoint, `s3://${bucket}/x`], cliEnv(testS3(), { user: 'other' }));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/access denied writing s3:\/\/.*\/x \(AccessDenied\); the credentials need s3:PutObject/);
    expect(r.started).toBe(false);
  });

  it('fails with exit 3 when the secret key is wrong (SignatureDoesNotMatch)', async () => {
    const env = { ...cliEnv(), AWS_SECRET_ACCESS_KEY: 'not-the-secret' };
    const r = await putWithMarker([...endpoint, `s3://${bucket}/x`], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/the secret key does not match the access key \(SignatureDoesNotMatch\)/);
  });

  it('fails with exit 3 when the access key is unknown (InvalidAccessKeyId)', async () => {
    const env = { ...cliEnv(), AWS_ACCESS_KEY_ID: 'nosuchkey' };
    const r = await putWithMarker([...endpoint, `s3://${bucket}/x`], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/does not know this access key \(InvalidAccessKeyId\)/);
  });

  it('fails fast with exit 3 when nothing answers at the endpoint', async () => {
    const r = await putWithMarker(['--endpoint-url', 'http://127.0.0.1:9', '--retry-for', '2', `s3://${bucket}/x`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach the object store at http:\/\/127.0.0.1:9: .*ECONNREFUSED.*check --endpoint-url/);
    expect(r.durationMs).toBeLessThan(15_000);
    expect(r.started).toBe(false);
  });

  it('does not read stdin when the preflight fails', async () => {
    const { stream } = randomStream(100 * 1024 * 1024);
    let pulled = 0;
    const counting = (async function* () {
      for await (const c of stream) {
        pulled += c.length;
        yield c;
      }
    })();
    const r = await runDiskless([...['put', ...endpoint], `s3://no-such-bucket-${Date.now()}/x`], { env: cliEnv(), stdin: counting });
    expect(r.code).toBe(3);
    // Only what fits in the pipe's buffer can have been written; nothing close to the whole stream.
    expect(pulled).toBeLessThan(8 * 1024 * 1024);
  });

  it('fails get with exit 3 and NoSuchKey when the object does not exist', async () => {
    const r = await runDiskless(['get', ...endpoint, `s3://${bucket}/missing`], { env: cliEnv() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/s3:\/\/.*\/missing does not exist \(NoSuchKey\); check the key/);
    expect(r.stdoutBytes).toBe(0);
  });

  it('tells get that the bucket, not the key, is missing', async () => {
    const r = await runDiskless(['get', ...endpoint, `s3://no-such-bucket-${Date.now()}/x`], { env: cliEnv() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bucket "no-such-bucket-\d+" does not exist \(NoSuchBucket\); check the URL and --endpoint-url/);
  });

  it('names a missing bucket once, without repeating the store\'s words', async () => {
    const r = await putWithMarker([...endpoint, `s3://no-such-bucket-${Date.now()}/x`]);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/write check failed/);
  });

  it('leaves no multipart upload behind from its write checks', async () => {
    expect(await listOpenUploads(bucket)).toEqual([]);
  });
});
