import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, randomStream, runDiskless, type CliResult } from '../support/cli.js';
import { objectBytes } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';
import { skipBecause } from '../support/skip.js';

/**
 * Bad input, end to end on the real CLI and the real RGW: each is refused with a message naming the
 * problem and the fix and its documented exit code (docs/ERRORS.md lists them), and leaves nothing
 * in the store. Port 19250 of this file's range serves a web server that is not S3.
 */
const NOT_S3_PORT = 19250;

/** Runs a bash script with $DISKLESS set, so arguments can carry raw bytes ($'\xff'). */
function runShell(script: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; durationMs: number }> {
  const started = Date.now();
  const child = spawn('bash', ['-c', script], { env: { ...env, DISKLESS: DISKLESS_BIN }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr, durationMs: Date.now() - started })));
}

async function* bytes(b: Buffer): AsyncGenerator<Uint8Array> {
  if (b.length > 0) yield b;
}

describe('bad input is refused with a clear message and the documented exit code', () => {
  let bucket: string;
  let endpoint: string[];
  let notS3: Server;

  beforeAll(async () => {
    bucket = await createTestBucket('bad-input');
    endpoint = ['--endpoint-url', testS3().endpoint];
    // Like `python3 -m http.server`: HTML for everything, 501 for the methods it does not know.
    notS3 = createServer((req, res) => {
      res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 501, { 'content-type': 'text/html;charset=utf-8' });
      res.end('<!DOCTYPE HTML><html><head><meta charset="utf-8"><title>Error response</title></head><body>Unsupported method</body></html>');
    });
    await new Promise<void>((resolve, reject) => {
      notS3.once('error', reject);
      notS3.listen(NOT_S3_PORT, '127.0.0.1', resolve);
    });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => notS3.close(() => resolve()));
  });

  /** put with a command that would leave a marker file if it were ever started. */
  async function putWithMarker(args: string[], env = cliEnv()): Promise<CliResult & { started: boolean }> {
    const marker = join(mkdtempSync(join(tmpdir(), 'diskless-marker-')), 'started');
    const r = await runDiskless(['put', ...args, '--', 'sh', '-c', `touch ${marker}; echo data`], { env });
    return { ...r, started: existsSync(marker) };
  }

  describe('keys and bucket names', () => {
    it('refuses a put key with a newline with exit 2, naming the byte, before anything starts', async () => {
      const r = await putWithMarker([...endpoint, `s3://${bucket}/a\nb`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/the key "a\\x0ab" has the control character 0x0a \(newline\) at character 2/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.started).toBe(false);
    });

    it('refuses a put key with another control character (0x01) with exit 2', async () => {
      const r = await putWithMarker([...endpoint, `s3://${bucket}/a\u0001`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/control character 0x01 at character 2/);
    });

    it('refuses a put key with a byte that is not UTF-8 with exit 2, naming the byte', async () => {
      const r = await runShell(`exec "$DISKLESS" put --endpoint-url ${testS3().endpoint} "s3://${bucket}/n"$'\\xff' -- echo data`, cliEnv());
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/has the byte 0xff at offset \d+, which is not valid UTF-8/);
      expect(await listKeys(bucket, 'n')).toEqual([]);
    });

    it('refuses file names under --dir that are not UTF-8 with EILSEQ, naming the byte: two such names do not collide', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dl-names-'));
      const r = await runShell(
        `exec "$DISKLESS" run --endpoint-url ${testS3().endpoint} --to s3://${bucket}/names/ --dir ${dir} -- ` +
          `bash -c 'echo a > ${dir}/n$'"'"'\\xff'"'"'; echo b > ${dir}/n$'"'"'\\xfe'"'"'; echo c > ${dir}/ok.txt'`,
        cliEnv(),
      );
      expect(r.stderr).toMatch(/"n\\xff" has the byte 0xff at offset 1, which is not valid UTF-8/);
      expect(r.stderr).toMatch(/"n\\xfe" has the byte 0xfe at offset 1, which is not valid UTF-8/);
      expect(r.stderr.match(/Invalid or incomplete multibyte or wide character/g)?.length).toBeGreaterThanOrEqual(2);
      expect(r.stderr).not.toMatch(/busy/i);
      expect(r.code).toBe(0);
      expect(await listKeys(bucket, 'names/')).toEqual(['names/diskless-manifest.json', 'names/ok.txt']);
    });

    it.each([
      ['ab', /"ab" \(2 characters, fewer than 3\)/],
      ['Backups', /"Backups" \(uppercase letters\)/],
      ['my_bucket', /"my_bucket" \(the character "_"\)/],
      ['a'.repeat(64), /\(64 characters, more than 63\)/],
      ['-dash', /begin and end with a letter or digit/],
    ])('refuses the bucket name %s locally with exit 2 and S3\'s rule', async (name, why) => {
      const r = await putWithMarker([...endpoint, `s3://${name}/k`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/bucket names are 3-63 lowercase letters, digits, dots and dashes/);
      expect(r.started).toBe(false);
    });

    it('refuses a bad bucket name in run --to and get with exit 2 too', async () => {
      const run = await runDiskless(['run', ...endpoint, '--to', 's3://Up/x/', '--dir', mkdtempSync(join(tmpdir(), 'dl-')), '--', 'true'], { env: cliEnv() });
      expect(run.code).toBe(2);
      const get = await runDiskless(['get', ...endpoint, 's3://a_b/x'], { env: cliEnv() });
      expect(get.code).toBe(2);
      expect(get.stderr).toMatch(/invalid bucket name "a_b"/);
    });
  });

  describe('the endpoint and the state directory', () => {
    it('says at once that an endpoint which answers HTML does not speak S3 (exit 3, no retries)', async () => {
      const r = await putWithMarker(['--endpoint-url', `http://127.0.0.1:${NOT_S3_PORT}`, `s3://${bucket}/x`]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/this endpoint does not speak S3: http:\/\/127\.0\.0\.1:19250 answered HTTP 501/);
      expect(r.stderr).toMatch(/check --endpoint-url/);
      expect(r.stderr).not.toMatch(/cannot reach/);
      // The retry budget is 60 s: an answer well inside it means no retry happened.
      expect(r.durationMs).toBeLessThan(10_000);
      expect(r.started).toBe(false);
    });

    it('says the same for get against that endpoint (exit 3)', async () => {
      const r = await runDiskless(['get', '--endpoint-url', `http://127.0.0.1:${NOT_S3_PORT}`, `s3://${bucket}/x`], { env: cliEnv() });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/this endpoint does not speak S3/);
      expect(r.durationMs).toBeLessThan(10_000);
    });

    it('says the same for gc against that endpoint (exit 3)', async () => {
      const r = await runDiskless(['gc', '--endpoint-url', `http://127.0.0.1:${NOT_S3_PORT}`, `s3://${bucket}`], { env: cliEnv() });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/this endpoint does not speak S3/);
    });

    it('fails get with exit 3 when the credentials may not read the object (a typed access error)', async (ctx) => {
      if (!testS3().otherAccessKeyId) skipBecause(ctx, 'the S3 server has no second user');
      const stored = await runDiskless(['put', ...endpoint, `s3://${bucket}/private`], { env: cliEnv(), stdin: bytes(Buffer.from('mine')) });
      expect(stored.code).toBe(0);
      const r = await runDiskless(['get', ...endpoint, `s3://${bucket}/private`], { env: cliEnv(testS3(), { user: 'other' }) });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/access denied reading s3:\/\/.*\/private \((AccessDenied|Forbidden)\); the credentials need s3:GetObject/);
      expect(r.stdoutBytes).toBe(0);
    });

    it('refuses a --state-dir that cannot be written before anything starts (exit 2)', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'dl-state-')), 'a-file');
      writeFileSync(file, 'not a directory');
      const r = await putWithMarker([...endpoint, '--state-dir', file, `s3://${bucket}/state`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--state-dir .*a-file is not usable: cannot write .*open-uploads \((ENOTDIR|EEXIST)\).*Pass a writable --state-dir/);
      expect(r.stderr).not.toMatch(/aborts what is left/);
      expect(r.started).toBe(false);
      expect(await listKeys(bucket, 'state')).toEqual([]);
    });
  });

  describe('the input', () => {
    it('refuses an empty stdin with exit 5 and stores nothing', async () => {
      const r = await runDiskless(['put', ...endpoint, `s3://${bucket}/empty`], { env: cliEnv(), stdin: bytes(Buffer.alloc(0)) });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/the input was empty: nothing was stored .* pass --allow-empty/);
      expect(await listKeys(bucket, 'empty')).toEqual([]);
    });

    it('refuses a command that writes nothing with exit 5 and does not replace the object already there, even with --overwrite', async () => {
      const good = await runDiskless(['put', ...endpoint, `s3://${bucket}/kept`], { env: cliEnv(), stdin: bytes(Buffer.from('good backup')) });
      expect(good.code).toBe(0);
      // --overwrite: past the refusal of an existing backup (exit 3), to the empty-input rule.
      const r = await runDiskless(['put', ...endpoint, '--overwrite', `s3://${bucket}/kept`, '--', 'true'], { env: cliEnv() });
      expect(r.code).toBe(5);
      expect((await objectBytes(bucket, 'kept')).toString()).toBe('good backup');
    });

    it('stores an empty object with --allow-empty', async () => {
      const r = await runDiskless(['put', ...endpoint, '--allow-empty', `s3://${bucket}/allowed-empty`], { env: cliEnv(), stdin: bytes(Buffer.alloc(0)) });
      expect(r.code).toBe(0);
      expect((await objectBytes(bucket, 'allowed-empty')).length).toBe(0);
    });

    it('fails with exit 5 when the stream is larger than --expected-size, storing nothing', async () => {
      const { stream } = randomStream(12 * 1024 * 1024);
      const r = await runDiskless(['put', ...endpoint, '--expected-size', '6MiB', `s3://${bucket}/too-big`], { env: cliEnv(), stdin: stream });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/the input is larger than --expected-size 6\.00 MiB \(6291456 bytes\)/);
      expect(await listKeys(bucket, 'too-big')).toEqual([]);
      expect((await listOpenUploads(bucket)).filter((u) => u.Key?.startsWith('too-big'))).toEqual([]);
    });

    it('fails with exit 5 (the input, not the store) when the stream outgrows one object under --no-split', async () => {
      const { stream } = randomStream(11 * 1024 * 1024);
      const r = await runDiskless(
        ['put', ...endpoint, '--no-split', '--part-size', '5MiB', '--max-parts', '2', `s3://${bucket}/no-split`],
        { env: cliEnv(), stdin: stream },
      );
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/the stream outgrew one object \(2 parts, 10\.0 MiB\) and --no-split is set/);
      expect(await listKeys(bucket, 'no-split')).toEqual([]);
      expect((await listOpenUploads(bucket)).filter((u) => u.Key?.startsWith('no-split'))).toEqual([]);
    });

    it('treats a command that does not exist the same under put and run: exit 2, before anything is sent', async () => {
      const put = await runDiskless(['put', ...endpoint, `s3://${bucket}/nocmd`, '--', 'no-such-command-xyz'], { env: cliEnv() });
      const run = await runDiskless(
        ['run', ...endpoint, '--to', `s3://${bucket}/nocmd-run/`, '--dir', mkdtempSync(join(tmpdir(), 'dl-')), '--', 'no-such-command-xyz'],
        { env: cliEnv() },
      );
      for (const r of [put, run]) {
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/command not found: no-such-command-xyz \(check the name and PATH\)/);
      }
      expect(await listKeys(bucket, 'nocmd')).toEqual([]);
    });
  });

  describe('help and version', () => {
    it('prints defaults as users type them (48MiB, 24h) in every command\'s --help', async () => {
      const helps: Record<string, string> = {};
      for (const cmd of ['put', 'get', 'gc', 'run', 'serve', 'snapshot']) {
        const r = await runDiskless([cmd, '--help'], { env: cliEnv() });
        expect(r.code).toBe(0);
        helps[cmd] = r.stdout!.toString();
        expect(helps[cmd]).not.toMatch(/default: \d{6,}/); // 41943040 bytes, 86400000 ms
      }
      expect(helps['put']).toMatch(/--memory <size>\s+one memory budget for all upload\s+buffers\s+and\s+the\s+read-ahead[\s\S]*?\(default:\s+48MiB\)/);
      expect(helps['run']).toMatch(/--memory <size>\s+one memory budget for all upload\s+buffers\s+and\s+the\s+read-ahead[\s\S]*?\(default:\s+48MiB\)/);
      expect(helps['gc']).toMatch(/--older-than <duration>[\s\S]*\(default: 24h\)/);
    });

    it('prints its version with --version, exit 0', async () => {
      const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
      const r = await runDiskless(['--version'], { env: cliEnv() });
      expect(r.code).toBe(0);
      expect(r.stdout!.toString().trim()).toBe(version);
    });
  });

  describe('secrets', () => {
    it('does not give the wrapped command the AWS credentials, unless --pass-aws-env', async () => {
      const env = cliEnv();
      const plain = await runDiskless(['put', ...endpoint, `s3://${bucket}/env-plain`, '--', 'env'], { env });
      expect(plain.code).toBe(0);
      const stored = (await objectBytes(bucket, 'env-plain')).toString();
      expect(stored).toMatch(/^PATH=/m);
      expect(stored).not.toMatch(/AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID/);
      expect(stored).not.toContain(env['AWS_SECRET_ACCESS_KEY']!);

      const passed = await runDiskless(['put', ...endpoint, '--pass-aws-env', `s3://${bucket}/env-passed`, '--', 'env'], { env });
      expect(passed.code).toBe(0);
      expect((await objectBytes(bucket, 'env-passed')).toString()).toContain(`AWS_SECRET_ACCESS_KEY=${env['AWS_SECRET_ACCESS_KEY']}`);
    });

    it('does not give a command under run the AWS credentials either', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dl-env-'));
      const r = await runDiskless(['run', ...endpoint, '--to', `s3://${bucket}/env-run/`, '--dir', dir, '--', 'sh', '-c', `env > ${dir}/env.txt`], { env: cliEnv() });
      expect(r.code).toBe(0);
      const stored = (await objectBytes(bucket, 'env-run/env.txt')).toString();
      expect(stored).toMatch(/DISKLESS_SOCKET=/);
      expect(stored).not.toMatch(/AWS_SECRET_ACCESS_KEY/);
    });

    it('redacts passwords in the manifest\'s command line', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dl-redact-'));
      const script = `: mysqldump -uroot -pS3cret shop; echo ok > ${dir}/a.txt`;
      const r = await runDiskless(
        ['run', ...endpoint, '--to', `s3://${bucket}/redact/`, '--dir', dir, '--', 'sh', '-c', script, 'sh', '--password=S3cret', 'postgresql://u:S3cret@db/shop'],
        { env: cliEnv() },
      );
      expect(r.code).toBe(0);
      const manifest = JSON.parse((await objectBytes(bucket, 'redact/diskless-manifest.json')).toString()) as { command: string[] };
      expect(JSON.stringify(manifest.command)).not.toContain('S3cret');
      expect(manifest.command).toEqual(['sh', '-c', `: mysqldump -uroot -p*** shop; echo ok > ${dir}/a.txt`, 'sh', '--password=***', 'postgresql://u:***@db/shop']);
    });

    it('redacts passwords in its log lines (a failed command\'s message)', async () => {
      const r = await runDiskless(['put', ...endpoint, `s3://${bucket}/redact-log`, '--', 'sh', '-c', 'exit 3', 'sh', '--password=S3cret', 'PGPASSWORD=S3cret'], { env: cliEnv() });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/the command exited with status 3: sh -c 'exit 3' sh '--password=\*\*\*' 'PGPASSWORD=\*\*\*'/);
      expect(r.stderr).not.toContain('S3cret');
    });
  });
});
