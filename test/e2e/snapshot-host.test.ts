// `diskless snapshot` on the host, without a VM: --method btrfs, fsfreeze (ext4 and xfs) and none on loop-mounted
// filesystems, against the RGW of the e2e setup. Each archive is fetched back with `diskless get`, listed, extracted and
// compared with the tree at snapshot time (test/uml/fingerprint.sh: xattrs, ACLs, owners, modes, hardlinks, symlinks,
// FIFO, contents); a writer keeps writing during the backup (test/uml/live-writer.sh) and a marker written after the
// snapshot must be absent. Every filesystem is thawed and unmounted in teardown, whatever happened.
// The LVM method needs device-mapper, which this kernel lacks: see snapshot-lvm.test.ts (a User-Mode Linux or QEMU TCG guest).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { expectValidManifest } from '../support/manifest-schema.js';
import { objectBytes } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';
import { allocatedBytes, extract, getObject, makeLoopFs, ok, script, sh, startDiskless, tempBase, type LoopFs } from '../support/snapshot.js';

const tools = ['mkfs.btrfs', 'mkfs.xfs', 'setfacl', 'getfattr', 'fsfreeze', 'zstd'];
const missing = tools.filter((t) => !ok('sh', ['-c', `command -v ${t}`]));
if (missing.length > 0 || process.getuid?.() !== 0) {
  throw new Error(`snapshot-host tests need root and ${tools.join(', ')} (missing: ${missing.join(', ') || 'none'}): apt-get install -y btrfs-progs xfsprogs acl attr zstd`);
}

let base: string;
let bucket: string;
let env: Record<string, string>;
let endpoint: string;
const filesystems: LoopFs[] = [];
const writers: ChildProcess[] = [];

beforeAll(async () => {
  base = tempBase('snaphost');
  bucket = await createTestBucket('snapshot-host');
  env = cliEnv();
  endpoint = testS3().endpoint;
});

afterAll(() => {
  for (const w of writers) w.kill('SIGKILL');
  for (const fs of filesystems.splice(0)) fs.destroy();
  if (base) rmSync(base, { recursive: true, force: true });
});

function loopFs(fstype: 'btrfs' | 'ext4' | 'xfs', sizeMiB?: number): LoopFs {
  const fs = makeLoopFs(base, fstype, sizeMiB);
  filesystems.push(fs);
  return fs;
}

function startWriter(dir: string): { stop(): Promise<void> } {
  const w = spawn('sh', [script('live-writer.sh'), dir], { stdio: 'ignore' });
  writers.push(w);
  const exited = new Promise<void>((r) => w.once('exit', () => r()));
  return {
    async stop() {
      writeFileSync(join(dir, 'live', '.stop'), '');
      const timer = setTimeout(() => w.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Writes DIR/after-snapshot.txt from a child process, never waited on here (it blocks while DIR is frozen). */
function writeMarkerLater(dir: string): void {
  const c = spawn('sh', ['-c', 'echo written after the snapshot > "$1"', 'marker', join(dir, 'after-snapshot.txt')], { stdio: 'ignore', detached: true });
  c.unref();
}

/** Whether a write to `dir` completes within `ms` (done in a child: a write to a frozen ext4 cannot be interrupted). */
async function writable(dir: string, ms = 5_000): Promise<boolean> {
  const c = spawn('sh', ['-c', 'echo probe > "$1/.probe" && rm -f "$1/.probe"', 'probe', dir], { stdio: 'ignore' });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

const common = () => ['--to', `s3://${bucket}/hosts/`, '--endpoint-url', endpoint, '--work-dir', join(base, 'work'), '--key', '{name}-{timestamp}{ext}'];

/** Fetches the one archive named in stderr's "stored s3://…" line, checks tar -t, extracts it and returns the directory. */
function fetchAndExtract(stderr: string, compressed: 'zstd' | null = null): { dir: string; url: string } {
  const url = /: stored (s3:\/\/\S+): /.exec(stderr)?.[1];
  expect(url, stderr).toBeDefined();
  const archive = getObject(url!, endpoint, env);
  const listing = sh('sh', ['-c', compressed ? 'zstd -d -c | tar -t' : 'tar -t'], { input: archive });
  expect(listing.split('\n')).toEqual(expect.arrayContaining(['./dir/file.txt', './dir/hardlink.txt', './dir/sparse.bin', './dir/fifo']));
  const dir = join(base, `x-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  extract(archive, dir, compressed);
  return { dir, url: url! };
}

/** `diskless restore URL DIR` into a fresh directory, which it returns. */
async function restored(url: string): Promise<string> {
  const dir = join(base, `r-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  const r = await startDiskless(['restore', '--endpoint-url', endpoint, url, dir], env).done;
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toMatch(/1\/1 file\(s\) of s3:\/\/\S+ restored into/);
  return dir;
}

function expectSameTree(extracted: string, expected: string): void {
  expect(sh('sh', [script('fingerprint.sh'), extracted])).toBe(expected);
  expect(Number(sh('stat', ['-c', '%i', join(extracted, 'dir/file.txt')]))).toBe(Number(sh('stat', ['-c', '%i', join(extracted, 'dir/hardlink.txt')])));
  // The 64 MiB sparse file comes back with its holes (tar --sparse), not 64 MiB of zeros.
  expect(allocatedBytes(join(extracted, 'dir/sparse.bin'))).toBeLessThan(1024 * 1024);
}

describe('diskless snapshot on loop-mounted filesystems', () => {
  it('--method btrfs archives a read-only snapshot of a subvolume that is being written to, then deletes the snapshot; diskless restore of the archive brings back xattrs, ACLs, hardlinks and holes', async () => {
    const fs = loopFs('btrfs');
    const sub = join(fs.mountpoint, 'data');
    sh('btrfs', ['subvolume', 'create', sub]);
    sh('sh', [script('populate-tree.sh'), sub]);
    const expected = sh('sh', [script('fingerprint.sh'), sub]);
    const writer = startWriter(sub);
    await new Promise((r) => setTimeout(r, 300));
    const run = startDiskless(['snapshot', ...common(), '--method', 'btrfs', '--mount', sub, '--compress', 'zstd'], env);
    await run.waitFor(/read-only btrfs snapshot .* created/);
    writeMarkerLater(sub);
    const result = await run.done;
    await writer.stop();
    expect(result.code, result.stderr).toBe(0);
    expect(sh('btrfs', ['subvolume', 'list', fs.mountpoint])).not.toMatch(/diskless-snap/);
    expect(readdirSync(sub).filter((n) => n.startsWith('.diskless-snap'))).toEqual([]);
    const { dir, url } = fetchAndExtract(result.stderr, 'zstd');
    expect(url).toMatch(/\/hosts\/.*data-\d{8}T\d{6}Z\.tar\.zst$/);
    expectSameTree(dir, expected);
    // diskless restore of the archive: decompressed and extracted with the snapshot's metadata flags, CRC32C checked.
    expectSameTree(await restored(url), expected);
    expect(sh('sh', [script('check-live.sh'), dir])).toMatch(/live files: \d+/);
    expect(existsSync(join(sub, 'after-snapshot.txt'))).toBe(true);
    const keys = await listKeys(bucket, 'hosts/');
    const manifests = keys.filter((k) => k.includes('diskless-manifest-'));
    expect(manifests).toHaveLength(1);
    expect(await listOpenUploads(bucket)).toEqual([]);
    // The manifest is a diskless-backup/2 one, and verify --deep walks the tar inside the zstd archive.
    const manifest = JSON.parse((await objectBytes(bucket, manifests[0]!)).toString());
    expectValidManifest(manifest, 'snapshot');
    expect(manifest).toMatchObject({ kind: 'snapshot', files: [{ end: 'exit', volume: { method: 'btrfs' } }] });
    const verified = await runDiskless(['verify', '--deep', '--no-record', '--endpoint-url', endpoint, `s3://${bucket}/${manifests[0]}`], { env, timeoutMs: 60_000 });
    expect(verified.code, verified.stdout!.toString() + verified.stderr).toBe(0);
    expect(verified.stdout!.toString()).toMatch(/1\/1 file\(s\) ok, deep, .*formats: zstd\+tar/);
  });

  for (const fstype of ['ext4', 'xfs'] as const) {
    it(`--method fsfreeze archives a frozen ${fstype} filesystem while a writer waits, and thaws it at the end`, async () => {
      const fs = loopFs(fstype);
      sh('sh', [script('populate-tree.sh'), fs.mountpoint]);
      const expected = sh('sh', [script('fingerprint.sh'), fs.mountpoint]);
      const writer = startWriter(fs.mountpoint);
      await new Promise((r) => setTimeout(r, 300));
      const run = startDiskless(['snapshot', ...common(), '--method', 'fsfreeze', '--mount', fs.mountpoint, '--freeze-timeout', '60'], env);
      try {
        await run.waitFor(/is FROZEN/);
        writeMarkerLater(fs.mountpoint);
        const result = await run.done;
        expect(result.code, result.stderr).toBe(0);
        expect(await writable(fs.mountpoint)).toBe(true);
        await writer.stop();
        const { dir } = fetchAndExtract(result.stderr);
        expectSameTree(dir, expected);
        expect(sh('sh', [script('check-live.sh'), dir])).toMatch(/live files: \d+/);
      } finally {
        ok('fsfreeze', ['--unfreeze', fs.mountpoint]);
        run.child.kill('SIGKILL');
      }
    });
  }

  it('--method none archives the live tree and warns that it may be inconsistent; diskless restore of its manifest brings the tree back', async () => {
    const fs = loopFs('ext4', 200);
    sh('sh', [script('populate-tree.sh'), fs.mountpoint]);
    const expected = sh('sh', [script('fingerprint.sh'), fs.mountpoint]);
    const result = await startDiskless(['snapshot', ...common(), '--method', 'none', '--mount', fs.mountpoint], env).done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/archives the LIVE tree without a snapshot/);
    expectSameTree(fetchAndExtract(result.stderr).dir, expected);
    // diskless restore of the whole backup, named by its manifest (one volume: into DIR itself).
    const manifest = /manifest (s3:\/\/\S+diskless-manifest-\d{8}T\d{6}Z\.json)/.exec(result.stderr)?.[1];
    expect(manifest, result.stderr).toBeDefined();
    expectSameTree(await restored(manifest!), expected);
  });

  it('--dry-run prints the plan and creates nothing', async () => {
    const fs = loopFs('btrfs', 200);
    const sub = join(fs.mountpoint, 'plan');
    sh('btrfs', ['subvolume', 'create', sub]);
    const before = await listKeys(bucket);
    const child = startDiskless(['snapshot', ...common(), '--method', 'btrfs', '--mount', sub, '--dry-run'], env);
    let stdout = '';
    child.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    const result = await child.done;
    expect(result.code, result.stderr).toBe(0);
    expect(stdout).toMatch(/btrfs subvolume snapshot -r .*\/plan/);
    expect(stdout).toMatch(/run: tar --create --file=- .*--xattrs '--xattrs-include=\*' --acls --selinux --numeric-owner --sparse/);
    expect(stdout).toMatch(/manifest \(last, only if every volume succeeds\)/);
    expect(sh('btrfs', ['subvolume', 'list', fs.mountpoint])).not.toMatch(/diskless-snap/);
    expect(await listKeys(bucket)).toEqual(before);
  });
});

describe('diskless snapshot usage errors', () => {
  it('refuses a selection the method cannot take with exit 2, before creating anything', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--method', 'btrfs', '--all'], /--all works with --method lvm only/],
      [['--method', 'none'], /nothing to back up/],
      [['--method', 'fsfreeze', '--mount', '/'], /refuses the root filesystem/],
      [['--method', 'none', '--mount', base, '--key', '{volume}.tar'], /unknown variable \{volume\}/],
      [['--method', 'none', '--mount', base, '--snapshot-size', '10%'], /--snapshot-size/],
    ];
    for (const [args, message] of cases) {
      const result = await startDiskless(['snapshot', ...common(), ...args], env).done;
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});

describe('diskless snapshot cleanup on the host', () => {
  let btrfs: LoopFs;
  let sub: string;
  beforeAll(() => {
    // Big enough that the upload is still running when the test signals diskless.
    btrfs = loopFs('btrfs', 900);
    sub = join(btrfs.mountpoint, 'big');
    sh('btrfs', ['subvolume', 'create', sub]);
    sh('sh', [script('populate-tree.sh'), sub, '300']);
  });

  it('SIGTERM during the upload deletes the btrfs snapshot, commits nothing and exits 143', async () => {
    const prefix = 'sigterm/';
    const run = startDiskless(['snapshot', ...common().map((a) => a.replace('/hosts/', `/${prefix}`)), '--method', 'btrfs', '--mount', sub], env);
    await run.waitFor(/btrfs snapshot .* created/);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(143);
    expect(sh('btrfs', ['subvolume', 'list', btrfs.mountpoint])).not.toMatch(/diskless-snap/);
    expect(await listKeys(bucket, prefix)).toEqual([]);
    expect(await listOpenUploads(bucket)).toEqual([]);
    expect(readdirSync(join(base, 'work'))).toEqual([]);
  });

  it('after SIGKILL, the next run removes the snapshot and the run directory the killed one left, then succeeds', async () => {
    const prefix = 'sigkill/';
    const args = ['snapshot', ...common().map((a) => a.replace('/hosts/', `/${prefix}`)), '--method', 'btrfs', '--mount', sub];
    const first = startDiskless(args, env);
    await first.waitFor(/btrfs snapshot .* created/);
    first.child.kill('SIGKILL');
    await first.done;
    expect(sh('btrfs', ['subvolume', 'list', btrfs.mountpoint])).toMatch(new RegExp(`diskless-snap-${first.child.pid}-`));
    expect(readdirSync(join(base, 'work'))).toEqual([String(first.child.pid)]);
    const second = await startDiskless(args, env).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`removed leftover btrfs snapshot .*diskless-snap-${first.child.pid}-`));
    expect(sh('btrfs', ['subvolume', 'list', btrfs.mountpoint])).not.toMatch(/diskless-snap/);
    expect(readdirSync(join(base, 'work'))).toEqual([]);
  });

  it('SIGKILL while frozen: the guard thaws the filesystem at once', async () => {
    const fs = loopFs('xfs', 900);
    sh('sh', [script('populate-tree.sh'), fs.mountpoint, '300']);
    const run = startDiskless(['snapshot', ...common(), '--method', 'fsfreeze', '--mount', fs.mountpoint], env);
    try {
      await run.waitFor(/is FROZEN/);
      run.child.kill('SIGKILL');
      await run.done;
      expect(await writable(fs.mountpoint, 5_000)).toBe(true);
    } finally {
      ok('fsfreeze', ['--unfreeze', fs.mountpoint]);
    }
  });

  it('a freeze longer than --freeze-timeout fails the volume, commits nothing and thaws', async () => {
    const fs = loopFs('ext4', 900);
    sh('sh', [script('populate-tree.sh'), fs.mountpoint, '300']);
    const prefix = 'freeze-timeout/';
    const run = startDiskless(['snapshot', ...common().map((a) => a.replace('/hosts/', `/${prefix}`)), '--method', 'fsfreeze', '--mount', fs.mountpoint, '--freeze-timeout', '0.5'], env);
    try {
      const result = await run.done;
      expect(result.code, result.stderr).toBe(5);
      expect(result.stderr).toMatch(/stayed frozen for the whole --freeze-timeout \(0\.5 s\).*nothing of this volume was committed/);
      expect(await writable(fs.mountpoint)).toBe(true);
      expect(await listKeys(bucket, prefix)).toEqual([]);
    } finally {
      ok('fsfreeze', ['--unfreeze', fs.mountpoint]);
    }
  });
});
