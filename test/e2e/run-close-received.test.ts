import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { objectBytes, regularFiles, sha256 } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, testS3 } from '../support/s3-test-env.js';

/**
 * `run --close received` (issue 13, small files): the program's close() returns once diskless has the
 * file's bytes in memory, and the object is stored afterwards. Against RGW: every file is stored as
 * written, and a store that refuses a file after its close returned still fails the run, naming it,
 * with no manifest.
 */
describe('diskless run --close received', () => {
  let bucket: string;
  let work: string;
  let src: string;

  beforeAll(async () => {
    bucket = await createTestBucket('closercv');
    work = mkdtempSync(join(tmpdir(), 'diskless-closercv-'));
    src = join(work, 'tree');
    for (let d = 0; d < 3; d++) mkdirSync(join(src, `d${d}`), { recursive: true });
    // 150 small files of 1-64 KiB, and one of 12 MiB (a multipart upload that is still sending when cp moves on).
    execFileSync('sh', ['-c', `i=0; while [ $i -lt 150 ]; do head -c $(( (i * 7919 % 64 + 1) * 1024 )) /dev/urandom > ${src}/d$((i % 3))/f$i.bin; i=$((i+1)); done`]);
    execFileSync('sh', ['-c', `head -c ${12 * 1024 * 1024} /dev/urandom > ${src}/d0/big.bin`]);
  });

  afterAll(() => work && rmSync(work, { recursive: true, force: true }));

  it('stores every file of cp -r byte for byte (150 small files and a 12 MiB one) and writes the manifest listing them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      const r = await runDiskless(
        ['run', '--endpoint-url', testS3().endpoint, '--close', 'received', '--to', `s3://${bucket}/all/`, '--dir', dir, '--', 'cp', '-r', src, `${dir}/`],
        { env: cliEnv(), timeoutMs: 180_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      const files = regularFiles(src).sort();
      expect(files).toHaveLength(151);
      const manifest = JSON.parse((await objectBytes(bucket, 'all/diskless-manifest.json')).toString()) as { files: Array<{ path: string; size: number }> };
      expect(manifest.files.map((f) => f.path).sort()).toEqual(files.map((f) => `tree/${f}`));
      for (const f of files) {
        const stored = await objectBytes(bucket, `all/tree/${f}`);
        expect(sha256(stored), f).toBe(sha256(readFileSync(join(src, f))));
      }
      expect(regularFiles(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('waits past --linger for files the program has closed but that are still uploading, and commits them', async () => {
    const proxy = await startFaultProxy({
      target: testS3().endpoint,
      rule: (req) => (req.method === 'PUT' && req.url.includes('/slow/f0.bin') ? { kind: 'stall', ms: 3_000 } : undefined),
    });
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      const r = await runDiskless(
        ['run', '--endpoint-url', proxy.endpoint, '--close', 'received', '--linger', '1', '--to', `s3://${bucket}/slow/`, '--dir', dir, '--', 'cp', `${src}/d0/f0.bin`, `${dir}/`],
        { env: cliEnv(), timeoutMs: 120_000 },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.counts.stall).toBe(1);
      expect(sha256(await objectBytes(bucket, 'slow/f0.bin'))).toBe(sha256(readFileSync(join(src, 'd0/f0.bin'))));
      expect(await listKeys(bucket, 'slow/')).toEqual(['slow/diskless-manifest.json', 'slow/f0.bin']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await proxy.close();
    }
  }, 180_000);

  /** Writes $OUT/db.dump, closes it, reopens it O_RDWR and fsyncs it, as pg_dump's sync pass does (fsync_fname); prints the times and fsync's outcome. */
  const SYNC_PASS = [
    'import os, time',
    "p = os.path.join(os.environ['OUT'], 'db.dump')",
    'fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)',
    "os.write(fd, b'row\\n' * 25000)",
    't0 = time.monotonic()',
    'try:',
    '    os.close(fd)',
    'except OSError as e:',
    "    print('close errno=%d' % e.errno); raise SystemExit(0)",
    't1 = time.monotonic()',
    'try:',
    '    fd = os.open(p, os.O_RDWR)',
    'except OSError as e:',
    "    print('reopen errno=%d' % e.errno); raise SystemExit(0)",
    'try:',
    "    os.fsync(fd); res = 'ok'",
    'except OSError as e:',
    "    res = 'errno=%d' % e.errno",
    't2 = time.monotonic()',
    "print('close %.2f fsync %.2f %s' % (t1 - t0, t2 - t1, res))",
  ].join('\n');

  it.each([
    ['waits until the object is stored (the PutObject held 2 s)', { kind: 'stall', ms: 2_000 } as const, 0, /close 0\.\d\d fsync [2-9]\.\d\d ok/],
    // A refusal that comes back before close() is answered fails the close itself (EIO), one that comes
    // before the reopen fails the reopen (the failed file is gone: ENOENT): either way the program is told.
    ['fails with EIO once the store refused the object', { kind: 'status', status: 403 } as const, 4, /fsync \d+\.\d\d errno=5\b|^close errno=5$|^reopen errno=2$/m],
  ])('fsync of a file reopened after its close returned %s', async (_what, fault, code, printed) => {
    const name = `sync-${code}`;
    const proxy = await startFaultProxy({
      target: testS3().endpoint,
      rule: (req) => (req.method === 'PUT' && req.url.includes(`/${name}/db.dump`) ? fault : undefined),
    });
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      const r = await runDiskless(
        ['run', '--endpoint-url', proxy.endpoint, '--close', 'received', '--to', `s3://${bucket}/${name}/`, '--dir', dir, '--', 'python3', '-c', SYNC_PASS],
        { env: { ...cliEnv(), OUT: dir }, timeoutMs: 120_000 },
      );
      expect(String(r.stdout), r.stderr).toMatch(printed);
      expect(r.code, r.stderr).toBe(code);
      expect(await listKeys(bucket, `${name}/`)).toEqual(code === 0 ? [`${name}/db.dump`, `${name}/diskless-manifest.json`] : []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await proxy.close();
    }
  }, 180_000);

  it('fails the run with exit 4, naming the file, and writes no manifest when the store refuses a PutObject after the program\'s close returned 0', async () => {
    const proxy = await startFaultProxy({
      target: testS3().endpoint,
      rule: (req) => (req.method === 'PUT' && req.url.includes('/refused/f1.bin') ? { kind: 'status', status: 403 } : undefined),
    });
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      // cp's close is the certainly-last close that waits in the default mode (cp would then fail with EIO);
      // here it returns 0, so cp exits 0 and the marker is printed: only the run can report the refusal.
      const r = await runDiskless(
        ['run', '--endpoint-url', proxy.endpoint, '--close', 'received', '--to', `s3://${bucket}/refused/`, '--dir', dir, '--',
          'sh', '-c', `cp ${src}/d1/f1.bin ${src}/d2/f2.bin ${dir}/ && echo cp-exited-0`],
        { env: cliEnv(), timeoutMs: 180_000 },
      );
      expect(String(r.stdout)).toContain('cp-exited-0');
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/f1\.bin/);
      expect(r.stderr).toMatch(/AccessDenied/);
      expect(r.stderr).toMatch(/no manifest written/);
      expect(proxy.counts.status).toBeGreaterThan(0);
      expect(await listKeys(bucket, 'refused/')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await proxy.close();
    }
  }, 240_000);
});
