// Helpers for the `diskless snapshot` end-to-end tests: loop-device filesystems that are always unmounted (and thawed)
// in teardown, the shared tree scripts of test/uml/, a diskless child whose stderr can be waited on line by line, and
// fetching an archive back with `diskless get` to extract it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DISKLESS_BIN } from './cli.js';

export const UML_DIR = fileURLToPath(new URL('../uml/', import.meta.url));
export const script = (name: string) => join(UML_DIR, name);

export function sh(cmd: string, args: string[], opts: { timeoutMs?: number; input?: Buffer } = {}): string {
  return execFileSync(cmd, args, { timeout: opts.timeoutMs ?? 60_000, encoding: 'utf8', ...(opts.input ? { input: opts.input } : {}), stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

/** Whether a command exits 0 (quietly). */
export function ok(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export interface LoopFs {
  mountpoint: string;
  image: string;
  /** Unmounts (thawing first, in case a test failed while frozen) and deletes the image. Never throws. */
  destroy(): void;
}

/** A fresh filesystem of `fstype` on a sparse image, loop-mounted below `base`. */
let loopCount = 0;
export function makeLoopFs(base: string, fstype: 'btrfs' | 'ext4' | 'xfs', sizeMiB = 600): LoopFs {
  const n = ++loopCount;
  const image = join(base, `${fstype}-${n}.img`);
  const mountpoint = join(base, `m-${fstype}-${n}`);
  mkdirSync(mountpoint, { recursive: true });
  sh('truncate', ['-s', `${sizeMiB}M`, image]);
  const mkfs = fstype === 'btrfs' ? ['mkfs.btrfs', '-q', image] : fstype === 'xfs' ? ['mkfs.xfs', '-q', image] : ['mkfs.ext4', '-q', '-F', image];
  sh(mkfs[0]!, mkfs.slice(1));
  sh('mount', ['-o', 'loop', image, mountpoint]);
  return {
    mountpoint,
    image,
    destroy() {
      // A frozen filesystem left behind hangs every writer on the machine: always thaw first.
      ok('fsfreeze', ['--unfreeze', mountpoint]);
      for (let i = 0; i < 20 && !ok('umount', [mountpoint]); i++) {
        if (!ok('mountpoint', ['-q', mountpoint])) break;
        execFileSync('sleep', ['0.2']);
      }
      rmSync(image, { force: true });
    },
  };
}

export function tempBase(name: string): string {
  mkdirSync('/var/tmp', { recursive: true });
  return mkdtempSync(join('/var/tmp', `dl-${name}-`));
}

/** A running `diskless` whose stderr lines can be awaited. */
export interface DisklessChild {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the first stderr line matching `re` (rejects after `timeoutMs` or if the process ends first). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startDiskless(args: readonly string[], env: Record<string, string>): DisklessChild {
  const child = spawn(DISKLESS_BIN, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const watchers: Array<() => void> = [];
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of [...watchers]) w();
  });
  child.stdout!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      for (const w of [...watchers]) w();
      resolve({ code, signal, stderr: err });
    }),
  );
  let ended = false;
  void done.then(() => (ended = true));
  return {
    child,
    stderr: () => err,
    done,
    waitFor(re, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = err.split('\n').find((l) => re.test(l));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          } else if (ended || child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`diskless ended before printing ${re}; stderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${re}; stderr so far:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          const i = watchers.indexOf(check);
          if (i >= 0) watchers.splice(i, 1);
        };
        watchers.push(check);
        check();
      });
    },
  };
}

/** `diskless get` of `url` into a buffer (the archives of these tests are small). */
export function getObject(url: string, endpoint: string, env: Record<string, string>): Buffer {
  return execFileSync(DISKLESS_BIN, ['get', url, '--endpoint-url', endpoint, '-q'], { env, maxBuffer: 512 * 1024 * 1024, timeout: 120_000 });
}

/** Extracts a tar archive (optionally zstd) with everything a restore needs, into `dest`. */
export function extract(archive: Buffer, dest: string, compressed: 'zstd' | 'gzip' | null = null): void {
  mkdirSync(dest, { recursive: true });
  const tarBytes = compressed === 'zstd' ? execFileSync('zstd', ['-d', '-c'], { input: archive, maxBuffer: 512 * 1024 * 1024 }) : compressed === 'gzip' ? execFileSync('gzip', ['-d', '-c'], { input: archive, maxBuffer: 512 * 1024 * 1024 }) : archive;
  execFileSync('tar', ['--extract', '--file=-', `--directory=${dest}`, '--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner', '--same-permissions', '--sparse'], { input: tarBytes, maxBuffer: 64 * 1024 * 1024 });
}

/** Allocated bytes of a file (st_blocks × 512): small for a sparse file whose holes survived. */
export function allocatedBytes(path: string): number {
  return Number(sh('stat', ['-c', '%b', path]).trim()) * 512;
}
