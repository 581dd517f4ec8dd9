import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, runDiskless } from '../support/cli.js';
import { objectBytes, regularFiles, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('diskless run with real tools, output directory on a 1 MiB tmpfs', () => {
  let bucket: string;
  let work: string;
  let tree: string;
  let big: string;
  const endpoint = () => ['--endpoint-url', testS3().endpoint];

  beforeAll(async () => {
    bucket = await createTestBucket('run');
    work = mkdtempSync(join(tmpdir(), 'diskless-run-'));
    tree = join(work, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    big = join(tree, 'big.bin');
    execFileSync('sh', ['-c', `head -c ${40 * MiB} /dev/urandom > ${big}`]);
    writeFileSync(join(tree, 'sub', 'small.txt'), 'hello\n'.repeat(1000));
    symlinkSync('sub/small.txt', join(tree, 'link'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Runs `script` (sh -c, with $OUT set) once into a local dir and once under diskless; returns both. */
  async function compare(name: string, script: string) {
    const local = join(work, `local-${name}`);
    mkdirSync(local);
    execFileSync('sh', ['-c', script], { env: { ...process.env, OUT: local }, cwd: work });
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), OUT: vdir.dir },
        cwd: work,
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
      expect(regularFiles(vdir.dir), 'nothing may land in the output directory').toEqual([]);
      return { local, result: r };
    } finally {
      vdir.dispose();
    }
  }

  async function expectSameFiles(name: string, local: string) {
    const files = regularFiles(local).sort();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(sha256(await objectBytes(bucket, `${name}/${f}`)), f).toBe(sha256(readFileSync(join(local, f))));
    }
    const manifest = JSON.parse((await objectBytes(bucket, `${name}/diskless-manifest.json`)).toString());
    expect(manifest.files.map((f: { path: string }) => f.path).sort()).toEqual(files);
    for (const f of manifest.files) expect(f.size).toBe(statSync(join(local, f.path)).size);
    expect((await listKeys(bucket, `${name}/`)).sort()).toEqual([...files.map((f) => `${name}/${f}`), `${name}/diskless-manifest.json`].sort());
  }

  it('stores tar -cf output byte-identical to a local run', async () => {
    const { local } = await compare('tar', 'tar -cf "$OUT/a.tar" -C tree .');
    await expectSameFiles('tar', local);
  });

  it('stores tar -czf output, written by the gzip tar forks, byte-identical to a local run', async () => {
    const { local } = await compare('targz', 'tar -czf "$OUT/a.tgz" -C tree .');
    await expectSameFiles('targz', local);
  });

  it('stores a shell redirection of gzip -c byte-identical to a local run', async () => {
    const { local } = await compare('gzip', 'gzip -c tree/big.bin > "$OUT/x.gz"');
    await expectSameFiles('gzip', local);
  });

  it('stores every piece of split -b 10M byte-identical to a local run', async () => {
    const { local } = await compare('split', 'split -b 10M tree/big.bin "$OUT/part-"');
    expect(regularFiles(local).length).toBe(4);
    await expectSameFiles('split', local);
  });

  it('ends a file the program never closes when the program exits', async () => {
    const { local } = await compare('neverclosed', 'exec 3>"$OUT/log.txt"; echo hello >&3; echo world >&3');
    await expectSameFiles('neverclosed', local);
  });

  it('waits for a background child that writes a file after the command exited', async () => {
    const { local } = await compare('late', '(sleep 1; echo late > "$OUT/late.txt") & echo early > "$OUT/early.txt"');
    await new Promise((r) => setTimeout(r, 1500)); // the local run's background child too
    await expectSameFiles('late', local);
  });

  it('prints the path of the shim for LD_PRELOAD by hand', async () => {
    const r = await runDiskless(['shim-path'], { env: cliEnv() });
    expect(r.code).toBe(0);
    const path = r.stdout!.toString().trim();
    expect(path).toMatch(/\/libdiskless_shim\.so$/);
    expect(statSync(path).isFile()).toBe(true);
  });

  it('writes no manifest, removes what was stored and exits 5 when the command exits 1 after writing files', async () => {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(
        ['run', ...endpoint(), '--to', `s3://${bucket}/fails/`, '--dir', vdir.dir, '--', 'sh', '-c', 'echo data > "$OUT/a.txt"; exit 1'],
        { env: { ...cliEnv(), OUT: vdir.dir } },
      );
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/the command exited with status 1: .*; no manifest written/);
      expect(await listKeys(bucket, 'fails/')).toEqual([]);
      expect(await listOpenUploads(bucket)).toEqual([]);
    } finally {
      vdir.dispose();
    }
  });

  it('refuses a non-empty output directory before running anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-full-'));
    writeFileSync(join(dir, 'old.sql'), 'x');
    const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/full/`, '--dir', dir, '--', 'true'], { env: cliEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dir .* is not empty \(old.sql\); diskless needs an empty or absent directory/);
  });

  it('refuses a statically linked or setuid command, suggesting put -- CMD', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-suid-'));
    execFileSync('cp', ['/bin/true', join(dir, 'suid')]);
    execFileSync('chmod', ['4755', join(dir, 'suid')]);
    const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/suid/`, '--dir', join(dir, 'out'), '--', join(dir, 'suid')], { env: cliEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/setuid or setgid.*diskless put/);
  });

  it('serves programs started from another shell with the printed environment, and writes the manifest on SIGTERM', async () => {
    const vdir = tinyTmpfs();
    try {
      const serve = spawn(DISKLESS_BIN, ['serve', ...endpoint(), '--to', `s3://${bucket}/serve/`, '--dir', vdir.dir], {
        env: cliEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      serve.stderr.on('data', (c) => (stderr += c));
      await new Promise<void>((resolve, reject) => {
        serve.stdout.on('data', (c) => {
          stdout += c;
          if (stdout.includes('DISKLESS_TOKEN')) resolve();
        });
        serve.once('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
      });
      // As a user would: source the printed lines in a shell, then run tar.
      const script = `${stdout}\ntar -cf "${vdir.dir}/etc.tar" -C "${tree}" sub`;
      execFileSync('bash', ['-c', script], { env: cliEnv() });
      const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
      serve.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      const local = execFileSync('tar', ['-cf', '-', '-C', tree, 'sub']);
      expect(sha256(await objectBytes(bucket, 'serve/etc.tar'))).toBe(sha256(local));
      expect(await listKeys(bucket, 'serve/')).toEqual(['serve/diskless-manifest.json', 'serve/etc.tar']);
    } finally {
      vdir.dispose();
    }
  });
});
