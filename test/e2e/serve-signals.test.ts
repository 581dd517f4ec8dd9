import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, runDiskless } from '../support/cli.js';
import { objectBytes } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

interface Served {
  child: ChildProcess;
  /** The `export …` lines serve printed. */
  exports: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; ms: number }>;
  /** ms since the process was signalled (set by kill). */
  kill(sig: NodeJS.Signals): void;
}

async function startServe(args: string[]): Promise<Served> {
  const child = spawn(DISKLESS_BIN, ['serve', '--endpoint-url', testS3().endpoint, ...args], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalledAt = 0;
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<{ code: number | null; ms: number }>((r) => child.once('exit', (code) => r({ code, ms: Date.now() - signalledAt })));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      stdout += c;
      if (stdout.includes('DISKLESS_TOKEN')) resolve();
    });
    child.once('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  return {
    child,
    exports: stdout,
    stderr: () => stderr,
    exited,
    kill: (sig) => {
      signalledAt ||= Date.now();
      child.kill(sig);
    },
  };
}

/**
 * Runs `script` in a bash started with serve's environment (sourced by an outer shell, as a user would: the shim
 * loads in the shell that exports it only for its children), in the background; resolves with its exit status.
 */
function writer(served: Served, script: string): { done: Promise<number | null>; child: ChildProcess } {
  const quoted = `'${script.replace(/'/g, `'\\''`)}'`;
  const child = spawn('bash', ['-c', `${served.exports}\nexec bash -c ${quoted}`], { env: cliEnv(), stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, done: new Promise((r) => child.once('exit', (code) => r(code))) };
}

async function waitForText(served: Served, re: RegExp, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !re.test(served.stderr()); ) {
    if (Date.now() > end) throw new Error(`serve never printed ${re}: ${served.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(path: string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; !existsSync(path); ) {
    if (Date.now() > end) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('diskless serve stopped by signals', () => {
  let bucket: string;
  let sync: string;
  const dirs: string[] = [];
  const vdir = () => {
    const d = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    bucket = await createTestBucket('serve');
    sync = mkdtempSync(join(tmpdir(), 'diskless-sync-'));
  });

  afterAll(() => {
    for (const d of [...dirs, sync]) rmSync(d, { recursive: true, force: true });
  });

  it('SIGTERM while a file is being written: a new open fails with EROFS, serve lets the open file finish, the writer\'s close succeeds, the manifest is written, exit 0', async () => {
    const dir = vdir();
    const served = await startServe(['--to', `s3://${bucket}/finish/`, '--dir', dir]);
    const w = writer(served, `{ head -c ${8 * MiB} /dev/zero; touch ${sync}/finish-ready; sleep 2; head -c ${8 * MiB} /dev/zero; } > ${dir}/f.bin`);
    await waitFor(join(sync, 'finish-ready'));
    served.kill('SIGTERM');
    await waitForText(served, /stopping: no new files/);
    // No new file once stopping: the open fails with EROFS (the open one goes on).
    const late = writer(served, `python3 -c "
import errno
try:
    open('${dir}/late.bin', 'w')
    print('opened')
except OSError as e:
    print(errno.errorcode[e.errno])
" > ${sync}/late-open.txt`);
    expect(await late.done).toBe(0);
    expect(readFileSync(join(sync, 'late-open.txt'), 'utf8').trim()).toBe('EROFS');
    expect(await w.done).toBe(0);
    const { code } = await served.exited;
    expect(code, served.stderr()).toBe(0);
    expect(await listKeys(bucket, 'finish/')).toEqual(['finish/diskless-manifest.json', 'finish/f.bin']);
    expect((await objectBytes(bucket, 'finish/f.bin')).length).toBe(16 * MiB);
  }, 60_000);

  it('a file still open --linger seconds after SIGTERM is failed: exit 5 naming it, no manifest, nothing left open, within the bound', async () => {
    const dir = vdir();
    const served = await startServe(['--to', `s3://${bucket}/straggler/`, '--dir', dir, '--linger', '2']);
    const w = writer(served, `exec 3>${dir}/held.bin; head -c ${6 * MiB} /dev/zero >&3; touch ${sync}/held-ready; sleep 60`);
    try {
      await waitFor(join(sync, 'held-ready'));
      served.kill('SIGTERM');
      const { code, ms } = await served.exited;
      expect(code, served.stderr()).toBe(5);
      expect(served.stderr()).toMatch(/1 file\(s\) were still open 2 s \(--linger\) after serve was stopped: held\.bin/);
      // --linger, then at most the 10 s given to the aborts (generous: a loaded machine).
      expect(ms).toBeLessThan(20_000);
      expect(await listKeys(bucket, 'straggler/')).toEqual([]);
      expect(await listOpenUploads(bucket)).toEqual([]);
    } finally {
      w.child.kill('SIGKILL');
    }
  }, 60_000);

  it('a second signal exits at once with 143; the next serve removes the socket directory it left', async () => {
    const dir = vdir();
    const served = await startServe(['--to', `s3://${bucket}/twice/`, '--dir', dir]);
    const pid = served.child.pid!;
    const w = writer(served, `exec 3>${dir}/held.bin; echo x >&3; touch ${sync}/twice-ready; sleep 60`);
    try {
      await waitFor(join(sync, 'twice-ready'));
      served.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      served.kill('SIGTERM');
      const { code, ms } = await served.exited;
      expect(code, served.stderr()).toBe(143);
      expect(ms).toBeLessThan(5_000);
    } finally {
      w.child.kill('SIGKILL');
    }
    const left = readdirSync(tmpdir()).filter((n) => n.startsWith(`diskless-${pid}-`));
    expect(left).toHaveLength(1);
    const next = await startServe(['--to', `s3://${bucket}/next/`, '--dir', vdir()]);
    next.kill('SIGTERM');
    expect((await next.exited).code, next.stderr()).toBe(0);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`diskless-${pid}-`))).toEqual([]);
  }, 60_000);

  it('a peer that connects and closes without a frame does not fail a good run, and the socket directory is removed', async () => {
    const dir = vdir();
    let pid = 0;
    const connectAndClose = `python3 -c "import os, socket; s = socket.socket(socket.AF_UNIX); s.connect(os.environ['DISKLESS_SOCKET']); s.close()"`;
    const r = await runDiskless(
      ['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/peer/`, '--dir', dir, '--', 'bash', '-c', `${connectAndClose}; echo hello > ${dir}/a.txt`],
      { env: cliEnv(), timeoutMs: 60_000, onSpawn: (p) => (pid = p) },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await listKeys(bucket, 'peer/')).toEqual(['peer/a.txt', 'peer/diskless-manifest.json']);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`diskless-${pid}-`))).toEqual([]);
  }, 60_000);
});
