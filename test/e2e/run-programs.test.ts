import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless, type CliResult } from '../support/cli.js';
import { objectBytes, regularFiles, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { makeAgeKey } from '../support/age.js';
import { cliEnv, createTestBucket, listKeys, makeTestClient, testS3 } from '../support/s3-test-env.js';

/**
 * issue 9: ordinary programs under `diskless run`, --dir on a 1 MiB tmpfs, against RGW. Every
 * pattern either stores exactly what a local run writes (byte for byte, or by a semantic check
 * where bytes legitimately differ) or fails with exit 5 and a specific message: none exits 0 with a
 * wrong backup, and nothing lands on the local disk.
 */
describe('diskless run with ordinary programs (issue 9)', () => {
  let bucket: string;
  let work: string;
  const endpoint = () => ['--endpoint-url', testS3().endpoint];

  beforeAll(async () => {
    bucket = await createTestBucket('progs');
    work = mkdtempSync(join(tmpdir(), 'diskless-progs-'));
    const src = join(work, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.txt'), 'hello\n');
    chmodSync(join(src, 'a.txt'), 0o444);
    execFileSync('sh', ['-c', `head -c ${3 * 1024 * 1024} /dev/urandom > ${join(src, 'sub', 'big.bin')}`]);
    writeFileSync(join(src, 'sub', 'text.txt'), 'line\n'.repeat(5000));
    execFileSync('sqlite3', [join(work, 'db.sqlite')], {
      input: 'create table t(x, y); with recursive c(i) as (select 1 union all select i+1 from c where i < 20000) insert into t select i, hex(randomblob(20)) from c;',
    });
  });

  afterAll(() => work && rmSync(work, { recursive: true, force: true }));

  /** `sh -c script` under diskless with $OUT = the virtual directory; asserts nothing landed there. */
  async function underDiskless(name: string, script: string, extra: string[] = []): Promise<CliResult> {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), ...extra, '--to', `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), OUT: vdir.dir },
        cwd: work,
        timeoutMs: 120_000,
      });
      expect(execFileSync('find', [vdir.dir, '-mindepth', '1', '!', '-type', 'd']).toString(), 'nothing may stay in the output directory').toBe('');
      return r;
    } finally {
      vdir.dispose();
    }
  }

  /** The same script into a local directory; returns it. */
  function locally(name: string, script: string): string {
    const local = join(work, `local-${name}`);
    mkdirSync(local);
    execFileSync('sh', ['-c', script], { env: { ...process.env, OUT: local }, cwd: work });
    return local;
  }

  /** Every regular file of the local run is stored byte for byte, and the manifest lists exactly those. */
  async function expectSameAsLocal(name: string, local: string, compare: (f: string, stored: Buffer, mine: Buffer) => void = defaultCompare) {
    const files = regularFiles(local).sort();
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) compare(f, await objectBytes(bucket, `${name}/${f}`), readFileSync(join(local, f)));
    const manifest = JSON.parse((await objectBytes(bucket, `${name}/diskless-manifest.json`)).toString());
    expect(manifest.files.map((f: { path: string }) => f.path).sort()).toEqual(files);
    expect((await listKeys(bucket, `${name}/`)).sort()).toEqual([...files.map((f) => `${name}/${f}`), `${name}/diskless-manifest.json`].sort());
  }

  function defaultCompare(f: string, stored: Buffer, mine: Buffer) {
    expect(sha256(stored), f).toBe(sha256(mine));
  }

  it('gives each written file\'s connection the send buffer asked for with --socket-buffer (1 MiB by default, 0 the kernel\'s), within net.core.wmem_max', async () => {
    // The program's descriptor of a file under --dir is its connection to diskless: getsockopt reads its SO_SNDBUF.
    const probe = `python3 -c 'import socket, sys; f = open(sys.argv[1], "wb"); s = socket.socket(fileno=f.fileno()); print(s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)); s.detach(); f.write(b"x"); f.close()' "$OUT/f" >&2`;
    const wmemMax = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));
    const wmemDefault = Number(readFileSync('/proc/sys/net/core/wmem_default', 'utf8'));
    const sndbuf = async (name: string, extra: string[]) => {
      const r = await underDiskless(name, probe, extra);
      expect(r.code, r.stderr).toBe(0);
      return Number(/^(\d+)$/m.exec(r.stderr)?.[1]);
    };
    // Linux keeps twice what is set (its bookkeeping), at most twice wmem_max.
    expect(await sndbuf('sndbuf-default', [])).toBe(Math.min(2 * 1024 * 1024, 2 * wmemMax));
    expect(await sndbuf('sndbuf-4m', ['--socket-buffer', '4MiB'])).toBe(Math.min(2 * 4 * 1024 * 1024, 2 * wmemMax));
    expect(await sndbuf('sndbuf-0', ['--socket-buffer', '0'])).toBe(wmemDefault);
  });

  it('leaves the host /dev/null untouched (mode, owner, times) when rsync -a --inplace runs as root, and stores the tree', async () => {
    const before = statSync('/dev/null');
    const script = 'rsync -a --inplace src/ "$OUT/tree/"';
    const local = locally('inplace', script);
    const r = await underDiskless('inplace', script);
    expect(r.code, r.stderr).toBe(0);
    const after = statSync('/dev/null');
    expect({ mode: after.mode, uid: after.uid, gid: after.gid, mtime: after.mtimeMs, ctime: after.ctimeMs }).toEqual({
      mode: before.mode,
      uid: before.uid,
      gid: before.gid,
      mtime: before.mtimeMs,
      ctime: before.ctimeMs,
    });
    await expectSameAsLocal('inplace', local);
  });

  it('stores rsync -a (temporary files made with O_RDWR|O_CREAT|O_EXCL, then renamed) byte-identical to a local run', async () => {
    const script = 'rsync -a src/ "$OUT/tree/"';
    const local = locally('rsync', script);
    const r = await underDiskless('rsync', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('rsync', local);
  });

  it('stores Python tempfile.mkstemp + os.replace and open("w") without an error line', async () => {
    const script =
      'python3 -c \'import os, sys, tempfile\n' +
      'fd, p = tempfile.mkstemp(dir=sys.argv[1]); os.write(fd, b"atomic " * 10000); os.close(fd); os.replace(p, os.path.join(sys.argv[1], "state.txt"))\n' +
      'with tempfile.NamedTemporaryFile("w", dir=sys.argv[1], delete=False) as t: t.write("named\\n" * 100)\n' +
      'os.replace(t.name, os.path.join(sys.argv[1], "named.txt"))\n' +
      'with open(os.path.join(sys.argv[1], "plain.txt"), "w") as f: print(f.tell(), file=f); f.write("plain\\n")\' "$OUT"';
    const local = locally('python', script);
    const r = await underDiskless('python', script);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/diskless-shim.*error/);
    await expectSameAsLocal('python', local);
  });

  it('stores zip -r (its temporary file comes from glibc mkstemp) as an archive with the same contents as a local run', async () => {
    const script = 'cd src && zip -qr "$OUT/a.zip" .';
    const local = locally('zip', script);
    const r = await underDiskless('zip', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('zip', local, (f, stored) => {
      // zip stamps local times; compare the archive's listing and CRCs, and its integrity.
      const at = join(work, `zip-stored-${f}`);
      writeFileSync(at, stored);
      expect(execFileSync('unzip', ['-tq', at]).toString()).toMatch(/No errors detected/);
      const listing = (p: string) => execFileSync('unzip', ['-Z', '-1', p]).toString().split('\n').sort();
      expect(listing(at)).toEqual(listing(join(local, f)));
      const crcs = (p: string) => execFileSync('sh', ['-c', `unzip -v "${p}" | awk 'NR>3 && $7 ~ /^[0-9a-f]{8}$/ {print $7, $8}' | sort`]).toString();
      expect(crcs(at)).toEqual(crcs(join(local, f)));
    });
  });

  it('stores sqlite3 .backup (a random-access file held in memory) as a database with the same rows', async () => {
    const script = 'sqlite3 db.sqlite ".backup $OUT/copy.db"';
    const local = locally('sqlite', script);
    const r = await underDiskless('sqlite', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('sqlite', local, (f, stored, mine) => {
      const at = join(work, `sqlite-stored-${f}`);
      writeFileSync(at, stored);
      const dump = (p: string) => execFileSync('sqlite3', [p, 'pragma integrity_check; select count(*), sum(x), group_concat(y) from t;']).toString();
      expect(dump(at)).toEqual(dump(join(local, f)));
      expect(stored.length).toBe(mine.length);
    });
  });

  it('turns an O_RDWR file written from start to end into a stream when it passes --random-access-limit (rsync, Python tempfile)', async () => {
    const script =
      'rsync -a src/ "$OUT/tree/" && python3 -c \'import os, sys, tempfile\n' +
      'fd, p = tempfile.mkstemp(dir=sys.argv[1])\nfor i in range(40): os.write(fd, bytes([i]) * 65536)\nos.close(fd); os.replace(p, os.path.join(sys.argv[1], "big.tmp"))\' "$OUT"';
    const local = locally('promote', script);
    const r = await underDiskless('promote', script, ['--random-access-limit', '1MiB']);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('promote', local);
  });

  it('fails with exit 5 and EFBIG naming --random-access-limit when a random-access file grows past it', async () => {
    const r = await underDiskless('ralimit', 'sqlite3 db.sqlite ".backup $OUT/copy.db"', ['--random-access-limit', '64KiB']);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/--random-access-limit/);
    expect(await listKeys(bucket, 'ralimit/')).toEqual([]);
  });

  it('refuses sh -c "busybox tar" (a static program given a path under --dir) with exit 5 and the reason', async () => {
    const r = await underDiskless('busybox', 'busybox tar -cf "$OUT/x.tar" src');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/busybox is statically linked/);
    expect(await listKeys(bucket, 'busybox/')).toEqual([]);
  });

  it('refuses the symlinks of cp -r (EPERM, a line naming the link, exit 5); with cp -rL the tree is stored', async () => {
    const tree = join(work, 'linked');
    mkdirSync(tree);
    writeFileSync(join(tree, 'f.txt'), 'target\n');
    symlinkSync('f.txt', join(tree, 'link'));
    const r = await underDiskless('symlinks', 'cp -r linked "$OUT/t"');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/symlink t\/link -> f\.txt refused/);
    expect(await listKeys(bucket, 'symlinks/')).toEqual([]);
    const script = 'cp -rL linked "$OUT/t"';
    const local = locally('symlinks-L', script);
    const ok = await underDiskless('symlinks-L', script);
    expect(ok.code, ok.stderr).toBe(0);
    await expectSameAsLocal('symlinks-L', local);
  });

  it('refuses a hard link under --dir with EPERM and exit 5', async () => {
    const r = await underDiskless('hardlink', 'echo x > "$OUT/f" && ln "$OUT/f" "$OUT/g"');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/hard link g -> .* refused/);
  });

  it('emulates a directory rename (mkdir d.tmp, write, mv d.tmp d) with server-side copies', async () => {
    const script = 'mkdir "$OUT/d.tmp" && seq 1 50000 > "$OUT/d.tmp/f" && mkdir "$OUT/d.tmp/s" && echo two > "$OUT/d.tmp/s/g" && mv "$OUT/d.tmp" "$OUT/d"';
    const local = locally('dirmv', script);
    const r = await underDiskless('dirmv', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('dirmv', local);
  });

  it('stores the second version of a file overwritten right after its close', async () => {
    const script = 'for i in 1 2 3 4 5; do echo first > "$OUT/f"; echo second-$i > "$OUT/f"; done';
    const local = locally('overwrite', script);
    const r = await underDiskless('overwrite', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('overwrite', local);
  });

  it('stores small files written by shell redirections whole while --memory is taken by other files (no tail lost at the last close)', async () => {
    // Each `echo > F` ends with the shell's dup2 over the descriptor: the kernel reports ECONNRESET (the HANDLE is left
    // unread), and the upload of F waits for memory meanwhile. Node used to drop what it had buffered then: empty files.
    const script =
      'head -c 40000000 /dev/zero > "$OUT/big" & head -c 40000000 /dev/zero > "$OUT/big2" & sleep 0.5; ' +
      'for i in 1 2 3 4 5; do echo hello-$i > "$OUT/s$i"; done; wait';
    const r = await underDiskless('smalltails', script, ['--memory', '16MiB', '--bwlimit', '10MiB']);
    expect(r.code, r.stderr).toBe(0);
    for (const i of [1, 2, 3, 4, 5]) expect((await objectBytes(bucket, `smalltails/s${i}`)).toString(), `s${i}`).toBe(`hello-${i}\n`);
    expect((await objectBytes(bucket, 'smalltails/big')).length).toBe(40000000);
  });

  it('reads back a file written earlier in the run once it is stored: tar -czf V/a.tgz && tar -tzf V/a.tgz lists the members, gzip -dc < V/f gives the bytes', async () => {
    const script =
      'tar -czf "$OUT/a.tgz" -C src . && tar -tzf "$OUT/a.tgz" | sort > readback.list && cp src/sub/big.bin "$OUT/g" && ' +
      'gzip -c < "$OUT/g" > "$OUT/g.gz" && gzip -dc < "$OUT/g.gz" | cmp - src/sub/big.bin && zcat "$OUT/g.gz" | sha256sum > readback.sum';
    const r = await underDiskless('readback', script);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(work, 'readback.list'), 'utf8')).toBe(execFileSync('sh', ['-c', 'tar -cf - -C src . | tar -tf - | sort'], { cwd: work }).toString());
    expect(readFileSync(join(work, 'readback.sum'), 'utf8').split(' ')[0]).toBe(sha256(readFileSync(join(work, 'src/sub/big.bin'))));
    const manifest = JSON.parse((await objectBytes(bucket, 'readback/diskless-manifest.json')).toString()) as { files: Array<{ path: string }> };
    expect(manifest.files.map((f) => f.path)).toEqual(['a.tgz', 'g', 'g.gz']);
    expect(sha256(execFileSync('gzip', ['-dc'], { input: await objectBytes(bucket, 'readback/g.gz'), maxBuffer: 16 * 1024 * 1024 }))).toBe(sha256(readFileSync(join(work, 'src/sub/big.bin'))));
  });

  it('reads back a file stored as a chain of objects (--part-size 5MiB --max-parts 2), every object checked', async () => {
    execFileSync('sh', ['-c', `head -c ${25 * 1024 * 1024} /dev/urandom > chain.src`], { cwd: work });
    const r = await underDiskless('chainback', 'cp chain.src "$OUT/c.bin" && cat "$OUT/c.bin" | cmp - chain.src && sha256sum < "$OUT/c.bin" > chain.sum', ['--part-size', '5MiB', '--max-parts', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(work, 'chain.sum'), 'utf8').split(' ')[0]).toBe(sha256(readFileSync(join(work, 'chain.src'))));
    const manifest = JSON.parse((await objectBytes(bucket, 'chainback/diskless-manifest.json')).toString()) as { files: Array<{ path: string; chain?: unknown[] }> };
    expect(manifest.files[0]!.chain?.length).toBeGreaterThanOrEqual(3);
  });

  it('fails the run (exit 6), naming the file and its object, when a file read back was overwritten in the store after it was written; no manifest', async () => {
    const sync = mkdtempSync(join(tmpdir(), 'diskless-sync-'));
    const running = underDiskless(
      'replaced',
      `cp src/sub/big.bin "$OUT/o" && touch ${sync}/written && while [ ! -e ${sync}/replaced ]; do sleep 0.1; done; cat "$OUT/o" > /dev/null; echo "cat=$?"`,
    );
    while (!existsSync(join(sync, 'written'))) await new Promise((r) => setTimeout(r, 50));
    const original = await objectBytes(bucket, 'replaced/o');
    const other = Buffer.from(original);
    other[1000] = other[1000]! ^ 0xff;
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'replaced/o', Body: other }));
    writeFileSync(join(sync, 'replaced'), '');
    const r = await running;
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout!.toString()).toContain('cat=1');
    expect(r.stderr).toMatch(/Input\/output error/);
    expect(r.stderr).toMatch(/stored file\(s\) could not be read whole by the command: o \(s3:\/\/[^/]+\/replaced\/o: .*no manifest written/);
    expect(await listKeys(bucket, 'replaced/'), 'the object it did not write is left alone, and there is no manifest').toEqual(['replaced/o']);
  });

  it('refuses to read back a file stored encrypted (--encrypt-to) with ENOKEY and a line naming why: the run holds no identity', async () => {
    const key = makeAgeKey(work, 'readback');
    const r = await underDiskless('encback', 'echo secret > "$OUT/s" && cat "$OUT/s"', ['--encrypt-to', key.recipient]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/Required key not available/);
    expect(r.stderr).toMatch(/s was stored encrypted \(--encrypt-to\) and this run holds no identity to decrypt it/);
    expect(await listKeys(bucket, 'encback/')).toEqual([]);
  });

  it('fails the run (exit 5), naming the file, when its writer is SIGKILLed mid-file although the shell exits 0 (issue 8, dead writer)', async () => {
    const r = await underDiskless('dead', 'dd if=/dev/zero bs=64k count=100000 of="$OUT/x" 2>/dev/null & sleep 0.5; kill -9 $!; wait; echo done');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/x: the program writing it ended without closing it \(killed or crashed\?\)/);
    expect(await listKeys(bucket, 'dead/')).toEqual([]);
  });

  it('records in the manifest how each file ended: close, exit (left open), replaced (dup2 over a shell redirection)', async () => {
    const script = 'echo a > "$OUT/redirected"; cat src/a.txt > "$OUT/cat"; python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT); os.write(fd, b\'left open\'); os._exit(0)" "$OUT/open"';
    const local = locally('ended', script);
    const r = await underDiskless('ended', script);
    expect(r.code, r.stderr).toBe(0);
    await expectSameAsLocal('ended', local);
    const manifest = JSON.parse((await objectBytes(bucket, 'ended/diskless-manifest.json')).toString());
    const ended = Object.fromEntries(manifest.files.map((f: { path: string; end: string }) => [f.path, f.end]));
    expect(ended).toEqual({ redirected: 'replaced', cat: expect.stringMatching(/^(replaced|exit|closed)$/), open: 'exit' });
  });

  it('fails the run (exit 5), naming them, for files created behind the shim\'s back, and removes them', async () => {
    // mkfifo and a static busybox given a path outside the directory's spelling (cd into it first: the
    // shim refuses exec when the cwd is inside, so use an absolute path through a symlink it cannot see).
    const r = await underDiskless('behind', 'mkfifo "$OUT/fifo" && echo ok > "$OUT/real.txt" && busybox sh -c "echo x > $OUT/static.txt"');
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/behind the shim's back.*fifo.*static\.txt/);
    expect(await listKeys(bucket, 'behind/')).toEqual([]);
  });
});
