import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, testS3 } from '../support/s3-test-env.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/swift/', import.meta.url));
const STATE = '/tmp/diskless-swift-test';
const ENDPOINT = 'http://127.0.0.1:19002';
const KEYS = { AWS_ACCESS_KEY_ID: 'test:tester', AWS_SECRET_ACCESS_KEY: 'testing' };
const INSTALL = 'apt-get install -y --no-install-recommends swift-proxy swift-account swift-container swift-object memcached socat';

/**
 * The second real S3 implementation: OpenStack Swift with s3api (scripts/swift/swift-up.sh), so provider differences
 * show up in tests, not at users': doctor reports it, put/get and run work, setup-bucket says it has no lifecycle.
 */
describe('diskless on OpenStack Swift (s3api), a second S3 implementation', () => {
  let bucket: string;
  let work: string;
  const env = () => ({ ...cliEnv(testS3()), ...KEYS });

  beforeAll(async () => {
    for (const bin of ['swift-proxy-server', 'swift-object-server', 'memcached', 'socat']) {
      if (!existsSync(`/usr/bin/${bin}`)) throw new Error(`this test needs OpenStack Swift: ${INSTALL} (or bash scripts/install-deps.sh test)`);
    }
    // A run killed earlier may have left its servers: stop them by their pid files first.
    await run('bash', [join(SCRIPTS, 'swift-down.sh'), STATE]).catch(() => undefined);
    // Output to a file: the daemons it starts inherit it, and would hold a pipe open (execFile would wait for them).
    const log = `${STATE}-up.log`;
    await run('bash', ['-c', 'bash "$0" "$1" > "$2" 2>&1 || { cat "$2" >&2; exit 1; }', join(SCRIPTS, 'swift-up.sh'), STATE, log], { timeout: 120_000 });
    bucket = `t-swift-${randomBytes(4).toString('hex')}`;
    const client = new S3Client({ endpoint: ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: KEYS.AWS_ACCESS_KEY_ID, secretAccessKey: KEYS.AWS_SECRET_ACCESS_KEY }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    client.destroy();
    work = mkdtempSync(join(tmpdir(), 'diskless-swift-'));
  }, 150_000);

  afterAll(async () => {
    if (work) rmSync(work, { recursive: true, force: true });
    await run('bash', [join(SCRIPTS, 'swift-down.sh'), STATE]).catch(() => undefined);
  });

  it('doctor reports Swift usable: Content-MD5 checked, composite multipart ETags, no flags needed', async () => {
    const r = await runDiskless(['doctor', `s3://${bucket}/`, '--endpoint-url', ENDPOINT, '--json'], { env: env() });
    expect(r.code, r.stderr + r.stdout?.toString()).toBe(0);
    const report = JSON.parse(r.stdout!.toString());
    const status = Object.fromEntries(report.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    expect(status).toMatchObject({ service: 'ok', write: 'ok', 'Content-MD5': 'ok', 'multipart ETag': 'ok' });
    expect(report.flags).toEqual([]);
  });

  it('put and get of 20 MiB (3 parts) round-trip byte for byte', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const file = join(work, 'in.bin');
    writeFileSync(file, data);
    const put = await runDiskless(['put', `s3://${bucket}/x.bin`, '--endpoint-url', ENDPOINT, '--', 'cat', file], { env: env() });
    expect(put.code, put.stderr).toBe(0);
    const get = await runDiskless(['get', `s3://${bucket}/x.bin`, '--endpoint-url', ENDPOINT], { env: env() });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdoutSha256).toBe(sha256(data));
  });

  it('run streams a tar archive written under --dir, identical to a local one', async () => {
    const tree = join(work, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'a.bin'), randomBytes(12 * 1024 * 1024));
    writeFileSync(join(tree, 'b.txt'), 'hello\n'.repeat(5000));
    await run('tar', ['-cf', join(work, 'local.tar'), '-C', tree, '.']);
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', '--endpoint-url', ENDPOINT, '--to', `s3://${bucket}/run/`, '--dir', vdir.dir, '--', 'tar', '-cf', join(vdir.dir, 'a.tar'), '-C', tree, '.'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
    } finally {
      vdir.dispose();
    }
    const get = await runDiskless(['get', `s3://${bucket}/run/a.tar`, '--endpoint-url', ENDPOINT], { env: env() });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdoutSha256).toBe(sha256(readFileSync(join(work, 'local.tar'))));
  });

  it('setup-bucket says the store does not support lifecycle rules (exit 3) instead of pretending', async () => {
    const r = await runDiskless(['setup-bucket', `s3://${bucket}`, '--endpoint-url', ENDPOINT], { env: env() });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/this store does not support PutBucketLifecycleConfiguration \(MalformedXML/);
  });
});
