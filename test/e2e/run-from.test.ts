// `diskless run --from`: programs read a stored backup straight from S3 through the shim (issue 12), the directory on a
// 1 MiB tmpfs, so no local copy of the backup can exist. Backups are written with `diskless run --to` first.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { objectBytes, regularFiles, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

/** Reads big.bin ($1) through stdio seeks, pread, fstat and mmap; writes what it read to stdout, checks positions itself. */
const PROBE = String.raw`#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
static char buf[200000];
#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "probe: " __VA_ARGS__); fprintf(stderr, " (%s)\n", strerror(errno)); exit(1); } } while (0)
static void take(FILE *fp, size_t n, size_t want) {
  size_t got = fread(buf, 1, n, fp);
  CHECK(got == want, "fread %zu: %zu", n, got);
  fwrite(buf, 1, got, stdout);
}
int main(int argc, char **argv) {
  (void)argc;
  FILE *fp = fopen(argv[1], "rb");
  CHECK(fp != NULL, "fopen");
  take(fp, 1000, 1000);
  CHECK(ftello(fp) == 1000, "ftello after 1000: %lld", (long long)ftello(fp));
  CHECK(fseeko(fp, 5000000, SEEK_SET) == 0, "fseeko 5000000");
  take(fp, 100000, 100000);
  CHECK(ftell(fp) == 5100000, "ftell");
  CHECK(fseeko(fp, -50000, SEEK_CUR) == 0, "fseeko back");
  take(fp, 10000, 10000);
  CHECK(fseek(fp, 100, SEEK_CUR) == 0, "fseek forward");
  take(fp, 10, 10);
  CHECK(ftello(fp) == 5060110, "ftello 5060110: %lld", (long long)ftello(fp));
  CHECK(fseeko(fp, -4096, SEEK_END) == 0, "fseeko SEEK_END");
  take(fp, 8192, 4096);
  CHECK(feof(fp), "feof");
  CHECK(ftello(fp) == 6 * 1024 * 1024, "ftello at the end: %lld", (long long)ftello(fp));
  rewind(fp);
  CHECK(!feof(fp) && ftello(fp) == 0, "rewind");
  int c = fgetc(fp);
  CHECK(ungetc(c ^ 0xff, fp) == (c ^ 0xff) && ftello(fp) == 0, "ungetc: %lld", (long long)ftello(fp));
  CHECK(fgetc(fp) == (c ^ 0xff), "fgetc after ungetc");
  fpos_t at;
  CHECK(fgetpos(fp, &at) == 0, "fgetpos");
  take(fp, 3, 3);
  CHECK(fsetpos(fp, &at) == 0 && ftello(fp) == 1, "fsetpos");
  take(fp, 3, 3);
  CHECK(fseeko(fp, 17, SEEK_SET) == 0, "fseeko 17");
  take(fp, 100000, 100000);
  int fd = open(argv[1], O_RDONLY);
  CHECK(fd >= 0, "open");
  ssize_t n = pread(fd, buf, 5000, 3000000);
  CHECK(n == 5000, "pread: %zd", n);
  fwrite(buf, 1, 5000, stdout);
  n = read(fd, buf, 100);
  CHECK(n == 100, "read after pread: %zd", n);
  fwrite(buf, 1, 100, stdout);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 6 * 1024 * 1024, "fstat: mode 0%o size %lld", st.st_mode, (long long)st.st_size);
  void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(p == MAP_FAILED && errno == ENODEV, "mmap");
  int copy = dup(fd);
  CHECK(copy >= 0 && lseek(fd, 6000000, SEEK_SET) == -1 && errno == ESPIPE, "lseek of a shared descriptor must fail with ESPIPE");
  char one;
  CHECK(pread(0, &one, 1, 5) == -1 && errno == ESPIPE, "pread of a descriptor inherited across exec must fail with ESPIPE");
  CHECK(fstat(0, &st) == 0 && S_ISSOCK(st.st_mode), "fstat of a descriptor inherited across exec: a socket");
  fflush(stdout);
  return 0;
}
`;

describe('diskless run --from: programs read a stored backup from S3, directory on a 1 MiB tmpfs', () => {
  let bucket: string;
  let work: string;
  let tree: string;
  const endpoint = () => ['--endpoint-url', testS3().endpoint];

  /** Stores what `script` writes under $OUT as the backup s3://bucket/name/. */
  async function store(name: string, script: string): Promise<void> {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), OUT: vdir.dir },
        cwd: work,
        timeoutMs: 120_000,
      });
      expect(r.code, r.stderr).toBe(0);
    } finally {
      vdir.dispose();
    }
  }

  /** Runs `script` (sh -c, $D is the directory) under run --from s3://bucket/name/. */
  async function readBack(name: string, script: string, extraEnv: Record<string, string> = {}) {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), '--from', `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), D: vdir.dir, ...extraEnv },
        cwd: work,
        timeoutMs: 120_000,
      });
      return { ...r, left: readdirSync(vdir.dir) };
    } finally {
      vdir.dispose();
    }
  }

  /** Runs `script` (sh -c, $D is the directory) under run --from s3://bucket/from/ --to s3://bucket/to/. */
  async function transform(from: string, to: string, script: string) {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), '--from', `s3://${bucket}/${from}`, '--to', `s3://${bucket}/${to}`, '--dir', vdir.dir, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), D: vdir.dir },
        cwd: work,
        timeoutMs: 120_000,
      });
      return { ...r, left: readdirSync(vdir.dir) };
    } finally {
      vdir.dispose();
    }
  }

  beforeAll(async () => {
    bucket = await createTestBucket('runfrom');
    work = mkdtempSync(join(tmpdir(), 'wt-12-runfrom-'));
    tree = join(work, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    execFileSync('sh', ['-c', `head -c ${6 * MiB} /dev/urandom > ${join(tree, 'big.bin')}`]);
    writeFileSync(join(tree, 'sub', 'small.txt'), 'hello\n'.repeat(1000));
    await store('arch', 'tar -cf "$OUT/x.tar" -C tree . && mkdir "$OUT/z" && gzip -c tree/big.bin > "$OUT/z/x.gz" && cp tree/big.bin "$OUT/big.bin"');
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('tar -xf of a stored tar gives files identical to the originals, with the tar never on local disk', async () => {
    const dest = join(work, 'untar');
    mkdirSync(dest);
    const r = await readBack('arch', `tar -xf "$D/x.tar" -C ${dest}`);
    expect(r.code, r.stderr).toBe(0);
    expect(regularFiles(dest).sort()).toEqual(['big.bin', 'sub/small.txt']);
    for (const f of ['big.bin', 'sub/small.txt']) expect(sha256(readFileSync(join(dest, f))), f).toBe(sha256(readFileSync(join(tree, f))));
    expect(r.left, 'the placeholders are removed at the end').toEqual([]);
  });

  it('tar -xzf and tar -tzf of a stored .tar.gz (tar hands the archive to gzip) give the original files', async () => {
    await store('targz', 'tar -czf "$OUT/x.tgz" -C tree .');
    const dest = join(work, 'untgz');
    mkdirSync(dest);
    const r = await readBack('targz', `tar -tzf "$D/x.tgz" | sort && tar -xzf "$D/x.tgz" -C ${dest}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toBe('./\n./big.bin\n./sub/\n./sub/small.txt\n');
    for (const f of ['big.bin', 'sub/small.txt']) expect(sha256(readFileSync(join(dest, f))), f).toBe(sha256(readFileSync(join(tree, f))));
  });

  it('zcat of a stored gzip file in a subdirectory gives the original bytes, also through a shell redirection', async () => {
    const out = join(work, 'zcat.out');
    const out2 = join(work, 'zcat2.out');
    const r = await readBack('arch', `zcat "$D/z/x.gz" > ${out} && gzip -dc < "$D/z/x.gz" > ${out2}`);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(readFileSync(out))).toBe(sha256(readFileSync(join(tree, 'big.bin'))));
    expect(sha256(readFileSync(out2))).toBe(sha256(readFileSync(join(tree, 'big.bin'))));
  });

  it('lists the backup with ls and find, reports sizes with stat, and refuses writes with EROFS', async () => {
    const r = await readBack(
      'arch',
      'cd "$D" && ls -1 && ls -l > /dev/null && find . -type f -o -type l | sort && stat -c "%n %s %F" x.tar big.bin z/x.gz && ' +
        'if echo data > "$D/new"; then echo WROTE; fi; if echo data > "$D/x.tar"; then echo WROTE; fi; ' +
        'if rm x.tar; then echo REMOVED; fi; if mv z/x.gz y.gz; then echo MOVED; fi; test -r x.tar && test -r z/x.gz && echo READABLE',
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout!.toString();
    expect(out).toContain('big.bin\nx.tar\nz\n');
    expect(out).toContain('./big.bin\n./x.tar\n./z/x.gz\n');
    expect(out).toContain(`big.bin ${6 * MiB} regular file`);
    expect(out).toMatch(/x\.tar \d+ regular file/);
    expect(out).not.toMatch(/WROTE|REMOVED|MOVED/);
    expect(out).toContain('READABLE');
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.stderr, 'ls -l asks for ACLs (getxattr): answered as absent').not.toMatch(/No such file/);
  });

  it('a file read without the shim gives ENOENT, never empty bytes', async () => {
    // LD_PRELOAD removed for cat (as for a static program): the placeholder leads nowhere.
    const r = await readBack('arch', 'env -u LD_PRELOAD cat "$D/big.bin" > /dev/null; echo "status=$?"');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toContain('status=1');
    expect(r.stderr).toMatch(/No such file or directory/);
  });

  it('lseek on a file of the backup reads on from the new offset (a new ranged stream), checked against the original bytes', async () => {
    // Python's open() seeks with lseek(2) (raw and buffered files alike), as do dd skip= and many programs.
    const script = [
      'import hashlib, os, sys',
      'p = os.environ["D"] + "/big.bin"',
      'out = []',
      'with open(p, "rb") as f:',
      '    for at in (5_000_000, 17, 6 * 1024 * 1024 - 10, 0):',
      '        f.seek(at); out.append(hashlib.sha256(f.read(100_000)).hexdigest())',
      '    f.seek(-4096, os.SEEK_END); out.append(hashlib.sha256(f.read()).hexdigest()); out.append(str(f.tell()))',
      'print(" ".join(out))',
    ].join('\n');
    const r = await readBack('arch', `python3 -c '${script}' && dd if="$D/big.bin" bs=1M skip=3 count=1 status=none | sha256sum`, {});
    expect(r.code, r.stderr).toBe(0);
    const original = readFileSync(join(tree, 'big.bin'));
    const want = [5_000_000, 17, 6 * MiB - 10, 0].map((at) => sha256(original.subarray(at, at + 100_000)));
    want.push(sha256(original.subarray(original.length - 4096)), String(original.length));
    const [py, dd] = r.stdout!.toString().trim().split('\n');
    expect(py).toBe(want.join(' '));
    expect(dd!.split(' ')[0]).toBe(sha256(original.subarray(3 * MiB, 4 * MiB)));
  });

  it('fseeko, ftello, rewind, fgetpos/fsetpos and pread on a file of the backup read the right bytes; fstat says a regular file of its size (tar -t seeks over members, cp falls back to read), mmap fails with ENODEV', async () => {
    writeFileSync(join(work, 'probe.c'), PROBE);
    execFileSync('cc', ['-O2', '-o', join(work, 'probe'), join(work, 'probe.c')]);
    const out = join(work, 'probe.out');
    const copy = join(work, 'cp.bin');
    const r = await readBack('arch', `${join(work, 'probe')} "$D/big.bin" < "$D/big.bin" > ${out} && tar -tf "$D/x.tar" | sort && cp "$D/big.bin" ${copy}`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toBe('./\n./big.bin\n./sub/\n./sub/small.txt\n');
    expect(sha256(readFileSync(copy)), 'cp tries copy_file_range on a regular file, then reads').toBe(sha256(readFileSync(join(tree, 'big.bin'))));
    const o = readFileSync(join(tree, 'big.bin'));
    const want = Buffer.concat([
      o.subarray(0, 1000),
      o.subarray(5_000_000, 5_100_000),
      o.subarray(5_050_000, 5_060_000),
      o.subarray(5_060_100, 5_060_110),
      o.subarray(6 * MiB - 4096),
      o.subarray(1, 4),
      o.subarray(1, 4),
      o.subarray(17, 100_017),
      o.subarray(3_000_000, 3_005_000),
      o.subarray(0, 100),
    ]);
    const got = readFileSync(out);
    expect(got.length).toBe(want.length);
    expect(sha256(got)).toBe(sha256(want));
    expect(r.stderr).toMatch(/mmap of fd \d+ \(big\.bin\) refused \(ENODEV\)/);
    expect(r.stderr).toMatch(/lseek on fd \d+ \(big\.bin\) refused \(ESPIPE\): the descriptor is shared/);
    expect(r.stderr).toMatch(/pread of fd 0 refused \(ESPIPE\)/);
  });

  it('refuses a run with neither --from nor --to with exit 2, and a prefix without a manifest with exit 6', async () => {
    const env = cliEnv();
    const neither = await runDiskless(['run', ...endpoint(), '--dir', join(work, 'none'), '--', 'true'], { env });
    expect(neither.code, neither.stderr).toBe(2);
    expect(neither.stderr).toContain('give --to');
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'nomanifest/a.bin', Body: 'x' }));
    const r = await readBack('nomanifest', 'echo RAN');
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/has no manifest/);
    expect(r.stdout!.toString()).not.toContain('RAN');
  });

  it('refuses --identity without --from, and --encrypt-to in a --from run without --to, with exit 2, naming the other flag', async () => {
    const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/never/`, '--identity', join(work, 'no-such.key'), '--dir', join(work, 'none'), '--', 'true'], { env: cliEnv() });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('--identity decrypts a backup read with --from');
    const enc = await runDiskless(['run', ...endpoint(), '--from', `s3://${bucket}/arch/`, '--encrypt-to', 'age1qqqq', '--dir', join(work, 'none'), '--', 'true'], { env: cliEnv() });
    expect(enc.code, enc.stderr).toBe(2);
    expect(enc.stderr).toContain('a --from run without --to writes nothing');
  });

  it('reads within --memory: with a 1 MiB budget (one slab to read ahead) a file six times larger reads whole and checked; a budget below one 1 MiB slab is refused with exit 2 naming --memory', async () => {
    const vdir = tinyTmpfs();
    try {
      const args = ['run', ...endpoint(), '--from', `s3://${bucket}/arch/`, '--dir', vdir.dir];
      const r = await runDiskless([...args, '--memory', '1MiB', '--', 'sh', '-c', 'sha256sum < "$D/big.bin"'], { env: { ...cliEnv(), D: vdir.dir }, cwd: work, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout!.toString()).toContain(sha256(readFileSync(join(tree, 'big.bin'))));
      const bad = await runDiskless([...args, '--memory', '100KiB', '--', 'true'], { env: cliEnv(), cwd: work, timeoutMs: 60_000 });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/memory/);
    } finally {
      vdir.dispose();
    }
  });

  it('a program that stops reading early is no failure', async () => {
    const r = await readBack('arch', 'head -c 1000 "$D/big.bin" | wc -c');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString().trim()).toBe('1000');
  });

  it('an object overwritten with other bytes of the same size fails the run (exit 6) naming it, and the program sees a read error', async () => {
    await store('bad', 'cp tree/big.bin "$OUT/big.bin" && cp tree/sub/small.txt "$OUT/small.txt"');
    const original = await objectBytes(bucket, 'bad/big.bin');
    const other = Buffer.from(original);
    other[3 * MiB] = other[3 * MiB]! ^ 0xff;
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'bad/big.bin', Body: other }));
    const out = join(work, 'bad.out');
    const r = await readBack('bad', `cat "$D/big.bin" > ${out}; echo "cat=$?"; cat "$D/small.txt" | wc -c`);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain('big.bin');
    expect(r.stderr).toContain(`s3://${bucket}/bad/big.bin`);
    expect(r.stdout!.toString()).toMatch(/cat=1\n6000\n/);
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(readFileSync(out).length, 'the program never gets the whole file').toBeLessThan(original.length);
  });

  it('a command that fails after reading only the start of a damaged file (its stored bytes changed, ETag and all, as bit rot would) makes the run exit 6 naming it; one that exits 0 stays no failure', async () => {
    await store('rot', 'cp tree/big.bin "$OUT/big.bin"');
    const damaged = Buffer.from(await objectBytes(bucket, 'rot/big.bin'));
    damaged[5 * MiB] = damaged[5 * MiB]! ^ 0xff; // past the first ranged GET: the program never sees it
    const put = await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'rot/big.bin', Body: damaged }));
    const manifest = JSON.parse((await objectBytes(bucket, 'rot/diskless-manifest.json')).toString()) as { files: Array<{ path: string; etag: string }> };
    // The manifest made to name the new object (its ETag), so only the CRC32C can tell.
    manifest.files.find((f) => f.path === 'big.bin')!.etag = put.ETag!.replace(/"/g, '');
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'rot/diskless-manifest.json', Body: JSON.stringify(manifest) }));
    const failed = await readBack('rot', 'head -c 1000 "$D/big.bin" | wc -c; exit 3');
    expect(failed.code, failed.stderr).toBe(6);
    expect(failed.stdout!.toString().trim()).toBe('1000');
    expect(failed.stderr).toContain(`s3://${bucket}/rot/big.bin`);
    expect(failed.stderr).toMatch(/CRC32C/);
    expect(failed.left).toEqual([]);
    const ok = await readBack('rot', 'head -c 1000 "$D/big.bin" | wc -c');
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('with --to as well, a command that fails after reading only the start of a damaged file makes the run exit 6 naming it, and no manifest is written', async () => {
    // 'rot' is the backup damaged by the test above (its ETag in the manifest is the damaged object's).
    const r = await transform('rot/', 'rot-b/', 'head -c 1000 "$D/big.bin" > "$D/start.bin"; exit 3');
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`s3://${bucket}/rot/big.bin`);
    expect(r.stderr).toMatch(/CRC32C/);
    expect(await listKeys(bucket, 'rot-b/')).not.toContain('rot-b/diskless-manifest.json');
  });

  it('with --to as well, reads the old backup and writes a new one (zcat D/z/x.gz | gzip > D/b.gz): the old names stay read-only (EROFS), the new manifest lists only what the command wrote', async () => {
    const before = (await listKeys(bucket, 'arch/')).sort();
    const oldManifest = (await objectBytes(bucket, 'arch/diskless-manifest.json')).toString();
    const r = await transform(
      'arch/',
      'arch-b/',
      'zcat "$D/z/x.gz" | gzip > "$D/b.gz" && zcat "$D/b.gz" | cmp - tree/big.bin && mkdir "$D/new" && tar -xOf "$D/x.tar" ./sub/small.txt > "$D/new/small.txt" && ' +
        'if echo x > "$D/x.tar"; then echo WROTE; fi; if rm "$D/big.bin"; then echo REMOVED; fi; if mv "$D/big.bin" "$D/moved"; then echo MOVED; fi; ' +
        'if mv "$D/z" "$D/zz"; then echo MOVED; fi; ls "$D"; stat -c "%n %F" "$D/b.gz"',
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout!.toString();
    expect(out).not.toMatch(/WROTE|REMOVED|MOVED/);
    // Listings show the backup and the real directories; files written in the run are not listed, as in any --to run.
    expect(out).toContain('big.bin\nnew\nx.tar\nz\n');
    expect(out).toMatch(/b\.gz regular file/);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(r.left, 'the placeholders are removed at the end; the directory the command made stays, as in any --to run').toEqual(['new']);
    const manifest = JSON.parse((await objectBytes(bucket, 'arch-b/diskless-manifest.json')).toString()) as { files: Array<{ path: string }> };
    expect(manifest.files.map((f) => f.path)).toEqual(['b.gz', 'new/small.txt']);
    expect((await objectBytes(bucket, 'arch-b/new/small.txt')).toString()).toBe(readFileSync(join(tree, 'sub', 'small.txt'), 'utf8'));
    expect(sha256(execFileSync('gzip', ['-dc'], { input: await objectBytes(bucket, 'arch-b/b.gz'), maxBuffer: 64 * MiB }))).toBe(sha256(readFileSync(join(tree, 'big.bin'))));
    expect((await listKeys(bucket, 'arch/')).sort(), 'the backup read is untouched').toEqual(before);
    expect((await objectBytes(bucket, 'arch/diskless-manifest.json')).toString()).toBe(oldManifest);
  });

  it('with --to as well, a command that fails, or that read a damaged file of the old backup, commits nothing new (exit 5, 6), and a --to prefix that is, holds or lies inside the --from one is refused (exit 2)', async () => {
    const failed = await transform('arch/', 'arch-failed/', 'cat "$D/big.bin" > "$D/copy.bin"; exit 3');
    expect(failed.code, failed.stderr).toBe(5);
    expect(await listKeys(bucket, 'arch-failed/')).toEqual([]);
    // An object of the old backup overwritten with other bytes of the same size: the copy would rest on it.
    await store('bad2', 'cp tree/big.bin "$OUT/big.bin"');
    const other = await objectBytes(bucket, 'bad2/big.bin');
    other[MiB] = other[MiB]! ^ 0xff;
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'bad2/big.bin', Body: other }));
    const damaged = await transform('bad2/', 'bad-copy/', 'cat "$D/big.bin" > "$D/copy.bin"; echo "cat=$?"');
    expect(damaged.code, damaged.stderr).toBe(6);
    expect(damaged.stdout!.toString()).toContain('cat=1');
    expect(damaged.stderr).toContain(`big.bin (s3://${bucket}/bad2/big.bin`);
    expect(await listKeys(bucket, 'bad-copy/')).toEqual([]);
    for (const to of ['arch/', 'arch/inner/', '']) {
      const r = await transform('arch/', to, 'true');
      expect(r.code, `${to}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/the backup read with --from .*: write the new backup to a prefix of its own/);
    }
    const inside = await transform('arch/z/', 'arch/', 'true');
    expect(inside.code, inside.stderr).toBe(2);
  });

  it('bytes that differ from the manifest\'s CRC32C make the read fail with EIO before the end of the file', async () => {
    await store('crc', 'cp tree/big.bin "$OUT/big.bin"');
    // The same damage as a bit flip the store did not notice: the manifest's checksum no longer matches the bytes.
    const manifest = JSON.parse((await objectBytes(bucket, 'crc/diskless-manifest.json')).toString()) as { files: Array<{ crc32c: string }> };
    manifest.files[0]!.crc32c = manifest.files[0]!.crc32c === '00000000' ? '00000001' : '00000000';
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'crc/diskless-manifest.json', Body: JSON.stringify(manifest) }));
    const out = join(work, 'crc.out');
    const r = await readBack('crc', `cat "$D/big.bin" > ${out}; echo "cat=$?"`);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/CRC32C/);
    expect(r.stderr).toContain(`s3://${bucket}/crc/big.bin`);
    expect(r.stdout!.toString()).toContain('cat=1');
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(readFileSync(out).length).toBeLessThan(6 * MiB);
  });
});
