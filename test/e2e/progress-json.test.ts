import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, runDiskless } from '../support/cli.js';
import { objectBytes, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, testS3 } from '../support/s3-test-env.js';

/** A producer that takes at least `chunks` × 0.5 s (sleep is a lower bound), writing 1 MiB before each pause. */
const slow = (chunks: number, to = '') => `for i in $(seq ${chunks}); do head -c 1048576 /dev/urandom${to}; sleep 0.5; done`;

function parseLines(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .trimEnd()
    .split('\n')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`stderr line is not JSON: ${JSON.stringify(line)}`);
      }
    });
}

describe('progress, --log-format json and --metrics-file', () => {
  let bucket: string;
  let work: string;
  beforeAll(async () => {
    bucket = await createTestBucket('progress');
    work = mkdtempSync(join(tmpdir(), 'diskless-progress-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const ep = () => ['--endpoint-url', testS3().endpoint];

  it('off a terminal, put prints a plain progress line every --progress-interval (at least 3 for a 4 s producer at 0.5 s), none with -q', async () => {
    const r = await runDiskless(['put', `s3://${bucket}/slow.bin`, ...ep(), '--progress-interval', '0.5', '--', 'sh', '-c', slow(8)], { env: cliEnv() });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('diskless: uploading: '));
    expect(lines.length, r.stderr).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^diskless: uploading: [\d.]+ (B|KiB|MiB) read \/ [\d.]+ (B|KiB|MiB) stored, (- |[\d.]+ (B|KiB|MiB))\/s$/);
    expect(r.stderr).not.toContain('\r');
    // The last line before the summary has read at least what was stored by then; the summary follows.
    expect(r.stderr).toMatch(/stored s3:\/\/\S+\/slow\.bin: 8\.00 MiB/);

    const quiet = await runDiskless(['put', `s3://${bucket}/quiet.bin`, ...ep(), '-q', '--progress-interval', '0.5', '--', 'sh', '-c', slow(3)], { env: cliEnv() });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
  });

  it('--expected-size gives the line a total and an ETA', async () => {
    const r = await runDiskless(
      ['put', `s3://${bucket}/sized.bin`, ...ep(), '--expected-size', '6MiB', '--progress-interval', '0.5', '--', 'sh', '-c', slow(6)],
      { env: cliEnv() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/uploading: .* of ~6\.00 MiB, [\d.]+ (KiB|MiB)\/s, ETA \d+:\d\d\n/);
  });

  it('on a terminal (script(1)), run shows a live line redrawn in place with bytes read and stored and files open, erased at the end', () => {
    const vdir = tinyTmpfs();
    try {
      const prog = `for f in a b; do (${slow(3)}) > ${vdir.dir}/$f & done; wait`;
      const argv = [DISKLESS_BIN, 'run', ...ep(), '--to', `s3://${bucket}/tty/`, '--dir', vdir.dir, '--', 'sh', '-c', prog];
      const out = execFileSync('script', ['-qefc', argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], { env: cliEnv() }).toString();
      expect(out).toMatch(/\r\x1b\[Kuploading: [\d.]+ (B|KiB|MiB) read \/ [\d.]+ (B|KiB|MiB) stored, [^\r\n]*2 files open, 0 done/);
      expect(out).toMatch(/stored 2 file\(s\)/);
      expect(out.endsWith('\r\x1b[K')).toBe(true);
    } finally {
      vdir.dispose();
    }
  });

  it('--log-format json: every stderr line of a run is one JSON object, progress events carry numbers, and the summary (last) has url, bytes, objects, checksums and exit status; --metrics-file records it', async () => {
    const vdir = tinyTmpfs();
    const metrics = join(work, 'run.prom');
    try {
      const prog = `(${slow(3)}) > ${vdir.dir}/one.bin; printf hello > ${vdir.dir}/two.txt`;
      const r = await runDiskless(
        ['--log-format', 'json', '--metrics-file', metrics, 'run', ...ep(), '--progress-interval', '0.4', '--to', `s3://${bucket}/json/`, '--dir', vdir.dir, '--', 'sh', '-c', prog],
        { env: cliEnv() },
      );
      expect(r.code, r.stderr).toBe(0);
      const events = parseLines(r.stderr);
      for (const e of events) {
        expect(e).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), event: expect.any(String) });
        expect(new Date(e['time'] as string).toISOString()).toBe(e['time']);
      }
      const progress = events.filter((e) => e['event'] === 'progress');
      expect(progress.length).toBeGreaterThanOrEqual(2);
      expect(progress.at(-1)).toMatchObject({ bytes: expect.any(Number), stored: expect.any(Number), active: expect.any(Number), filesDone: expect.any(Number) });
      const summary = events.at(-1)!;
      const one = await objectBytes(bucket, 'json/one.bin');
      expect(summary).toMatchObject({
        event: 'summary',
        command: 'run',
        status: 'ok',
        exitStatus: 0,
        url: `s3://${bucket}/json/`,
        manifest: `s3://${bucket}/json/diskless-manifest.json`,
        bytes: one.length + 5,
        objects: 2,
      });
      const checksums = summary['checksums'] as Record<string, { crc32c: string; etag: string }>;
      expect(Object.keys(checksums).sort()).toEqual(['one.bin', 'two.txt']);
      expect(checksums['two.txt']!.etag).toBe('5d41402abc4b2a76b9719d911017c592'); // md5("hello")
      expect(checksums['two.txt']!.crc32c).toMatch(/^[0-9a-f]{8}$/);
      const text = readFileSync(metrics, 'utf8');
      expect(text).toContain('diskless_last_run_success{command="run"} 1\n');
      expect(text).toContain(`diskless_last_run_bytes{command="run"} ${one.length + 5}\n`);
      expect(text).toContain('diskless_last_run_objects{command="run"} 2\n');
      expect(text).toMatch(/diskless_last_run_end_time_seconds\{command="run"\} (\d+)\n/);
      const end = Number(/end_time_seconds\{command="run"\} (\d+)/.exec(text)![1]);
      expect(Math.abs(end - Date.now() / 1000)).toBeLessThan(600);
    } finally {
      vdir.dispose();
    }
  });

  it('--log-format json on a failed put: the error and a failed summary with exit status 5, as JSON; the metrics file says failed', async () => {
    const metrics = join(work, 'put.prom');
    const r = await runDiskless(
      ['put', '--log-format', 'json', '--metrics-file', metrics, `s3://${bucket}/failed.bin`, ...ep(), '--', 'sh', '-c', 'head -c 1000 /dev/zero; exit 3'],
      { env: cliEnv() },
    );
    expect(r.code).toBe(5);
    const events = parseLines(r.stderr);
    expect(events.find((e) => e['event'] === 'error')).toMatchObject({ level: 'error', message: expect.stringMatching(/exited with status 3/) });
    expect(events.at(-1)).toMatchObject({ event: 'summary', level: 'error', command: 'put', status: 'failed', exitStatus: 5 });
    const text = readFileSync(metrics, 'utf8');
    expect(text).toContain('diskless_last_run_success{command="put"} 0\n');
    expect(text).toContain('diskless_last_run_exit_status{command="put"} 5\n');
  });

  it('--log-format json on a put: the summary has the object, its size and its checksums (ETag, CRC32C, SHA-256)', async () => {
    const r = await runDiskless(['--log-format', 'json', 'put', `s3://${bucket}/ok.bin`, ...ep(), '--sha256', '--', 'printf', 'hello'], { env: cliEnv() });
    expect(r.code, r.stderr).toBe(0);
    const summary = parseLines(r.stderr).at(-1)!;
    expect(summary).toMatchObject({
      event: 'summary',
      status: 'ok',
      exitStatus: 0,
      url: `s3://${bucket}/ok.bin`,
      bytes: 5,
      objects: 1,
      checksums: { etag: '5d41402abc4b2a76b9719d911017c592', crc32c: expect.stringMatching(/^[0-9a-f]{8}$/), sha256: sha256(Buffer.from('hello')) },
    });
    expect(summary['message']).toMatch(/^stored s3:\/\//);
  });

  it('refuses a bad --log-format or --progress-interval with exit 2; an argument error still comes out as JSON; an unwritable --metrics-file is a warning', async () => {
    const badFormat = await runDiskless(['--log-format', 'xml', 'put', `s3://${bucket}/x`, ...ep(), '--', 'true'], { env: cliEnv() });
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/option '--log-format <format>' argument 'xml' is invalid\. Allowed choices are text, json\./);
    const badInterval = await runDiskless(['put', `s3://${bucket}/x`, ...ep(), '--progress-interval', '0', '--', 'true'], { env: cliEnv() });
    expect(badInterval.code).toBe(2);
    expect(badInterval.stderr).toMatch(/--progress-interval must be a positive number of seconds, got "0"/);
    const unknown = await runDiskless(['--log-format=json', 'put', '--bogus', `s3://${bucket}/x`], { env: cliEnv() });
    expect(unknown.code).toBe(2);
    expect(parseLines(unknown.stderr).at(-1)).toMatchObject({ event: 'summary', command: 'put', status: 'failed', exitStatus: 2, message: "unknown option '--bogus'" });
    const metrics = await runDiskless(['--metrics-file', join(work, 'no-such-dir', 'm.prom'), 'put', `s3://${bucket}/m.txt`, ...ep(), '--', 'printf', 'hi'], { env: cliEnv() });
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stderr).toMatch(/diskless: warning: could not write --metrics-file \S+m\.prom: .*ENOENT/);
  });

  it('on a terminal, get and verify --deep show a live line of the bytes read back; shallow verify shows none', async () => {
    const put = await runDiskless(['put', `s3://${bucket}/back.bin`, ...ep(), '--', 'head', '-c', '20000000', '/dev/urandom'], { env: cliEnv() });
    expect(put.code, put.stderr).toBe(0);
    const onTerminal = (args: string[]) => {
      const line = [DISKLESS_BIN, ...args, ...ep()].map((a) => `'${a}'`).join(' ');
      return execFileSync('script', ['-qefc', line.replace(/'>'/, '>'), '/dev/null'], { env: cliEnv() }).toString();
    };
    expect(onTerminal(['get', `s3://${bucket}/back.bin`, '>', '/dev/null'])).toMatch(/\r\x1b\[Kreading: [\d.]+ (B|KiB|MiB), /);
    expect(onTerminal(['verify', '--deep', `s3://${bucket}/back.bin`])).toMatch(/\r\x1b\[Kverifying: [\d.]+ (B|KiB|MiB), /);
    expect(onTerminal(['verify', `s3://${bucket}/back.bin`])).not.toContain('verifying:');
  });
});
