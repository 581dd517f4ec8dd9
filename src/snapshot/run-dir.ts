import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../process/is-alive.js';
import { mountsBelow, readMountinfo, type MountEntry } from './mountinfo.js';

/** Default parent of the private run directories: tmpfs, root-only, gone after a reboot. */
export const DEFAULT_WORK_DIR = '/run/diskless-snapshot';
/** Every snapshot diskless creates is named so; a second run recognises leftovers by it. */
export const SNAPSHOT_PREFIX = 'diskless-snap-';

/** What a run is about to create, written BEFORE it is created, so a later run can undo it after a kill. */
export type Intent =
  | { kind: 'lv'; vg: string; name: string }
  | { kind: 'mount'; path: string }
  | { kind: 'btrfs'; path: string }
  | { kind: 'frozen'; path: string };

export interface RunOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (/proc/PID/stat field 22): tells a reused pid apart. */
  startTime: number | null;
  host: string;
  startedAt: string;
}

/**
 * The private directory of one run, `<workDir>/<pid>/`: snapshots are mounted below `mnt/`
 * mirroring their mount points, `owner` says whose it is, `intents` lists what the run created.
 */
export class RunDir {
  readonly path: string;
  readonly mountRoot: string;

  private constructor(readonly workDir: string, readonly pid: number) {
    this.path = join(workDir, String(pid));
    this.mountRoot = join(this.path, 'mnt');
  }

  static create(workDir: string, pid = process.pid): RunDir {
    const dir = new RunDir(workDir, pid);
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    mkdirSync(dir.mountRoot, { recursive: true, mode: 0o700 });
    const owner: RunOwner = { pid, startTime: processStartTime(pid), host: hostname(), startedAt: new Date().toISOString() };
    writeFileSync(join(dir.path, 'owner'), JSON.stringify(owner) + '\n');
    return dir;
  }

  static open(workDir: string, pid: number): RunDir {
    return new RunDir(workDir, pid);
  }

  /** Where the snapshot of what is mounted at `mountpoint` (or has this name) is mounted. */
  mountPathFor(mountpointOrName: string): string {
    const rel = mountpointOrName.replace(/^\/+/, '');
    return rel === '' ? join(this.mountRoot, 'root') : join(this.mountRoot, rel);
  }

  record(intent: Intent): void {
    appendFileSync(join(this.path, 'intents'), JSON.stringify(intent) + '\n');
  }

  intents(): Intent[] {
    let text: string;
    try {
      text = readFileSync(join(this.path, 'intents'), 'utf8');
    } catch {
      return [];
    }
    const out: Intent[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as Intent);
      } catch {
        // a line cut by the kill: what it names was not created yet
      }
    }
    return out;
  }

  owner(): RunOwner | undefined {
    try {
      return JSON.parse(readFileSync(join(this.path, 'owner'), 'utf8')) as RunOwner;
    } catch {
      return undefined;
    }
  }

  /**
   * Removes the run's files and its (empty) directories; refuses to delete anything mounted. While
   * something is still mounted below it (an unmount failed), the records stay for the next run's sweep.
   */
  remove(mounts: () => MountEntry[] = readMountinfo): void {
    if (mountsBelow(mounts(), this.path).length > 0) return;
    rmSync(join(this.path, 'intents'), { force: true });
    rmSync(join(this.path, 'owner'), { force: true });
    removeEmptyTree(this.path);
  }
}

/**
 * Deletes empty directories bottom-up with rmdir, which refuses anything else: a directory that
 * still holds files, or one that is still a mount point (EBUSY). Never deletes file contents.
 */
export function removeEmptyTree(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeEmptyTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // not empty, still mounted, or gone
  }
}

/** /proc/PID/stat field 22 (starttime); null if unreadable. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * Whether the run that created something is still running: its pid lives and, when known, has the
 * same start time (pids are reused); without an owner record, the process must look like diskless.
 * The caller treats its own pid as dead: it sweeps before creating anything, so what carries its
 * pid then comes from an earlier boot.
 */
export function runIsAlive(pid: number, owner: RunOwner | undefined): boolean {
  if (!isAlive(pid)) return false;
  if (owner?.startTime != null) return processStartTime(pid) === owner.startTime;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('diskless');
  } catch {
    return false;
  }
}

/** `diskless-snap-<pid>-<lv>`, at most 120 characters (LVM allows 127). */
export function snapshotLvName(lv: string, pid = process.pid): string {
  return `${SNAPSHOT_PREFIX}${pid}-${lv}`.slice(0, 120);
}

/** The pid in a snapshot name made by snapshotLvName (or the btrfs `.diskless-snap-<pid>-…`), else null. */
export function pidOfSnapshotName(name: string): number | null {
  const m = /^\.?diskless-snap-(\d+)-/.exec(name);
  return m ? Number(m[1]) : null;
}
