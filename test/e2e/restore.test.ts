// `diskless restore` and the checks `diskless get` gained, against the RGW of the e2e setup: a run backup of a tree and a
// put backup come back identical; a corrupted or missing object fails the restore naming the file, with nothing
// half-written under its final name; a prefix without a manifest and a non-empty directory are refused.
import { PutObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, runDiskless } from '../support/cli.js';
import { objectBytes } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('diskless restore on Ceph RGW', () => {
  let bucket: string;
  let work: string;
  let src: string;

  beforeAll(async () => {
    bucket = await createTestBucket('restore');
    work = mkdtempSync(join(tmpdir(), 'diskless-restore-'));
    // 60 files in subdirectories, one of 30 MiB, an empty one, a dotfile and a name with a space.
    src = join(work, 'src');
    for (let d = 0; d < 6; d++) {
      const dir = join(src, `dir${d}`, d % 2 ? 'deeper' : '');
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 9; f++) writeFileSync(join(dir, `file ${f}.txt`), `dir ${d} file ${f}\n`.repeat(100 * (f + 1)));
    }
    mkdirSync(join(src, 'top'), { recursive: true });
    execFileSync('sh', ['-c', `head -c ${30 * MiB} /dev/urandom > '${join(src, 'top', 'big.bin')}'`]);
    writeFileSync(join(src, 'top', 'empty'), '');
    writeFileSync(join(src, 'top', '.hidden'), 'dotfile\n');
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `root-${i}.log`), `log ${i}\n`);
    const count = readdirSync(src, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
    expect(count).toBe(60);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const dl = (args: string[], timeoutMs = 180_000) => runDiskless([args[0]!, '--endpoint-url', testS3().endpoint, ...args.slice(1)], { env: cliEnv(), timeoutMs });

  async function runBackup(name: string): Promise<void> {
    const out = join(work, `out-${name}`);
    const r = await dl(['run', '--to', `s3://${bucket}/${name}/`, '--dir', out, '--', 'cp', '-r', `${src}/.`, out]);
    expect(r.code, r.stderr).toBe(0);
  }

  /** Files under dir (recursively) that are restore's temporary names. */
  const temps = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => p.includes('.diskless-restore-'));

  it('restores a run backup of a tree (subdirectories, 60 files, a 30 MiB file) identical to the source (diff -r)', async () => {
    await runBackup('tree');
    const dest = join(work, 'restored-tree');
    const r = await dl(['restore', '--concurrency', '6', `s3://${bucket}/tree/`, dest]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/60\/60 file\(s\) of s3:\/\/\S+\/tree\/ restored into/);
    execFileSync('diff', ['-r', src, dest]);
    expect(temps(dest)).toEqual([]);
  });

  it('shows a progress line when stderr is a terminal, and none with --no-progress', async () => {
    // script(1) gives the command a terminal; what it writes there comes back on script's stdout.
    const onTerminal = (dest: string, extra: string[]) => {
      const argv = [DISKLESS_BIN, 'restore', '--endpoint-url', testS3().endpoint, ...extra, `s3://${bucket}/tree/`, dest];
      return execFileSync('script', ['-qefc', argv.map((a) => `'${a}'`).join(' '), '/dev/null'], { env: cliEnv() }).toString();
    };
    expect(onTerminal(join(work, 'restored-tty'), [])).toMatch(/\r\x1b\[Krestoring: [^\r]*, \d+\/60 file\(s\)/);
    expect(onTerminal(join(work, 'restored-quiet'), ['--no-progress'])).not.toMatch(/restoring: /);
  });

  it('restores only what --include and --exclude select (picomatch globs)', async () => {
    const dest = join(work, 'restored-part');
    const r = await dl(['restore', '--include', 'dir1/**', '--include', 'top/*', '--exclude', '**/*.bin', `s3://${bucket}/tree/`, dest]);
    expect(r.code, r.stderr).toBe(0);
    const got = readdirSync(dest, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dest.length + 1)).sort();
    expect(got).toEqual([...Array.from({ length: 9 }, (_, f) => `dir1/deeper/file ${f}.txt`), 'top/.hidden', 'top/empty'].sort());
  });

  it('restores a put backup (with SHA-256) identical, and get checks the stream against its manifest', async () => {
    const file = join(src, 'top', 'big.bin');
    const put = await dl(['put', '--sha256', `s3://${bucket}/put/big.bin`, '--', 'cat', file]);
    expect(put.code, put.stderr).toBe(0);
    const dest = join(work, 'restored-put');
    const r = await dl(['restore', `s3://${bucket}/put/big.bin`, dest]);
    expect(r.code, r.stderr).toBe(0);
    execFileSync('cmp', [file, join(dest, 'big.bin')]);

    // get: the bytes and the recorded CRC32C/SHA-256 agree; with a manifest that records another SHA-256, get fails (exit 4).
    const got = await dl(['get', `s3://${bucket}/put/big.bin`]);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdoutSha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    const sidecar = JSON.parse((await objectBytes(bucket, 'put/big.bin.diskless.json')).toString());
    sidecar.files[0].sha256 = '0'.repeat(64);
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'put/big.bin.diskless.json', Body: JSON.stringify(sidecar) }));
    const bad = await dl(['get', `s3://${bucket}/put/big.bin`]);
    expect(bad.code, bad.stderr).toBe(4);
    expect(bad.stderr).toMatch(/SHA-256 [0-9a-f]{64}, its manifest says 0{64}/);
  });

  it('fails with exit 6 naming a corrupted and a missing file; the corrupted one never appears under its name, the others are restored', async () => {
    await runBackup('damaged');
    const s3 = makeTestClient();
    const manifestKey = 'damaged/diskless-manifest.json';
    const manifest = JSON.parse((await objectBytes(bucket, manifestKey)).toString()) as { files: Array<{ path: string; key: string; size: number; etag: string }> };
    // Bit rot the store did not notice: same size, other bytes, and the manifest's ETag made to match, so only the CRC32C can tell.
    const big = manifest.files.find((f) => f.path === 'top/big.bin')!;
    const rotten = Buffer.from(readFileSync(join(src, 'top', 'big.bin')));
    rotten[12345] = rotten[12345]! ^ 0xff;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: big.key, Body: rotten }));
    const head = await objectBytes(bucket, big.key);
    expect(head.length).toBe(big.size);
    big.etag = createHash('md5').update(rotten).digest('hex');
    (big as { parts?: number }).parts = 1;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey, Body: JSON.stringify(manifest) }));
    const gone = manifest.files.find((f) => f.path === 'dir0/file 3.txt')!;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: gone.key }));

    const dest = join(work, 'restored-damaged');
    const r = await dl(['restore', `s3://${bucket}/damaged/`, dest]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/CHECKSUM MISMATCH {2}top\/big\.bin: CRC32C [0-9a-f]{8}, the manifest says [0-9a-f]{8}/);
    expect(r.stderr).toMatch(/MISSING {2}dir0\/file 3\.txt/);
    expect(r.stderr).toMatch(/58\/60 file\(s\).*2 file\(s\) missing or damaged, not restored: /);
    expect(existsSync(join(dest, 'top', 'big.bin'))).toBe(false);
    expect(existsSync(join(dest, 'dir0', 'file 3.txt'))).toBe(false);
    expect(temps(dest)).toEqual([]);
    expect(readFileSync(join(dest, 'dir0', 'file 2.txt'), 'utf8')).toBe(readFileSync(join(src, 'dir0', 'file 2.txt'), 'utf8'));
  });

  it('refuses a prefix without a manifest (exit 6) unless --force, and a non-empty directory (exit 2) unless --overwrite', async () => {
    const s3 = makeTestClient();
    for (const name of ['a.txt', 'sub/b.txt']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `nomanifest/${name}`, Body: `${name}\n` }));
    const dest = join(work, 'restored-forced');
    const refused = await dl(['restore', `s3://${bucket}/nomanifest/`, dest]);
    expect(refused.code, refused.stderr).toBe(6);
    expect(refused.stderr).toMatch(/has no manifest: 2 object\(s\).*pass --force/);
    expect(existsSync(dest)).toBe(false);

    const forced = await dl(['restore', '--force', `s3://${bucket}/nomanifest/`, dest]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/no manifest: restoring 2 object\(s\) with their sizes and ETags checked, no checksums/);
    expect(readFileSync(join(dest, 'sub', 'b.txt'), 'utf8')).toBe('sub/b.txt\n');

    const again = await dl(['restore', '--force', `s3://${bucket}/nomanifest/`, dest]);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toMatch(/is not empty .*--overwrite/);
    writeFileSync(join(dest, 'a.txt'), 'changed locally\n');
    const over = await dl(['restore', '--force', '--overwrite', `s3://${bucket}/nomanifest/`, dest]);
    expect(over.code, over.stderr).toBe(0);
    expect(readFileSync(join(dest, 'a.txt'), 'utf8')).toBe('a.txt\n');
  });

  it('names the backups when the URL is a parent of several (exit 2) and says when there is none (exit 3)', async () => {
    const parent = await dl(['restore', `s3://${bucket}/`, join(work, 'nowhere')]);
    expect(parent.code, parent.stderr).toBe(2);
    expect(parent.stderr).toMatch(/holds \d+ backups; restore one of them: s3:\/\//);
    const none = await dl(['restore', `s3://${bucket}/no-such-backup/`, join(work, 'nowhere')]);
    expect(none.code, none.stderr).toBe(3);
    expect(none.stderr).toMatch(/no backup at s3:\/\/\S+\/no-such-backup\//);
  });
});
