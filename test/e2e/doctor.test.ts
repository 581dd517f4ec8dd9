import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, testS3 } from '../support/s3-test-env.js';

/** `diskless doctor` against Ceph RGW: the properties it reports, and clear failures on endpoints that will not work. */
describe('diskless doctor', () => {
  let bucket: string;
  let web: Server;
  beforeAll(async () => {
    bucket = await createTestBucket('doctor');
    // A plain web server, as `python3 -m http.server` would be: answers every request with an HTML page.
    web = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><meta></head><body>files</body></html>'));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => web.close(() => resolve())));

  const doctor = (args: string[]) => runDiskless(['doctor', ...args], { env: cliEnv() });

  it('reports what RGW does: Content-MD5 checked, unequal parts accepted, composite multipart ETags, no lifecycle rule yet', async () => {
    const r = await doctor([`s3://${bucket}/db/`, '--endpoint-url', testS3().endpoint, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout!.toString());
    const status = Object.fromEntries(report.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    expect(status).toMatchObject({ service: 'ok', write: 'ok', 'Content-MD5': 'ok', 'unequal parts': 'ok', 'multipart ETag': 'ok', lifecycle: 'warn' });
    expect(report.flags).toEqual([]);
    expect(report.ok).toBe(true);
    // What --part-checksum auto chooses on Ceph 16 (test/e2e/part-checksum.test.ts checks the choice itself).
    const parts = report.checks.find((c: { name: string }) => c.name === 'part checksums');
    expect(parts?.detail).toMatch(/does not take CRC32C part checksums: parts carry Content-MD5/);
    // Its probe objects are gone again.
    expect(await listKeys(bucket)).toEqual([]);
  });

  it('sees the lifecycle rule that setup-bucket applied', async () => {
    const setup = await runDiskless(['setup-bucket', `s3://${bucket}`, '--endpoint-url', testS3().endpoint], { env: cliEnv() });
    expect(setup.code, setup.stderr).toBe(0);
    const r = await doctor([`s3://${bucket}/db/`, '--endpoint-url', testS3().endpoint]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toMatch(/✔ lifecycle: rule "diskless-abort-incomplete" aborts incomplete uploads after 3 days/);
  });

  it('says at once that an endpoint which is not S3 does not speak S3 (exit 3)', async () => {
    const started = Date.now();
    const r = await doctor(['--endpoint-url', `http://127.0.0.1:${(web.address() as AddressInfo).port}`]);
    expect(r.code).toBe(3);
    expect(r.stdout!.toString()).toMatch(/✘ service: .* answers, but does not speak S3 \(HTTP 200, the answer is not S3's XML/);
    expect(r.stderr).toMatch(/point --endpoint-url at the S3 API of the store/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails with exit 3 naming the fix when the credentials are wrong or missing', async () => {
    const wrong = await runDiskless(['doctor', '--endpoint-url', testS3().endpoint], { env: { ...cliEnv(), AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
    expect(wrong.code).toBe(3);
    expect(wrong.stdout!.toString()).toMatch(/✘ service: the store refuses these credentials: SignatureDoesNotMatch/);
    const env = cliEnv();
    delete env['AWS_ACCESS_KEY_ID'];
    delete env['AWS_SECRET_ACCESS_KEY'];
    const none = await runDiskless(['doctor', '--endpoint-url', testS3().endpoint], { env });
    expect(none.code).toBe(3);
    expect(none.stdout!.toString()).toMatch(/✘ credentials: no AWS credentials found: set AWS_ACCESS_KEY_ID/);
  });
});
