import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { CommandRunner } from './command-runner.js';
import { listLvs } from './lvm.js';
import { mountsBelow, readMountinfo, type MountEntry } from './mountinfo.js';
import { unmount } from './mount-readonly.js';
import { RunDir, SNAPSHOT_PREFIX, pidOfSnapshotName, runIsAlive, type RunOwner } from './run-dir.js';

export interface LeftoverOptions {
  run: CommandRunner;
  log: Logger;
  workDir: string;
  /** Whether to look for snapshot LVs (LVM tools present and usable). */
  lvm: boolean;
  /** btrfs subvolumes this run is about to snapshot: their `.diskless-snap-*` leftovers are removed too. */
  btrfsPaths?: readonly string[];
  mounts?: () => MountEntry[];
  isRunAlive?: (pid: number, owner: RunOwner | undefined) => boolean;
  /** Kills the processes whose cwd or root is below `dir` (tar of the dead run); returns how many. */
  killHolders?: (dir: string) => Promise<number>;
}

/**
 * Finds and removes what earlier runs that died (SIGKILL, power loss, a second Ctrl-C) left
 * behind, recognised by name: run directories under the work dir whose process is gone (their
 * tar is killed, frozen filesystems thawed, mounts unmounted, btrfs snapshots deleted), then
 * `diskless-snap-<pid>-*` LVs of dead pids, then `.diskless-snap-<pid>-*` subvolumes of the
 * btrfs paths about to be backed up. What another live run holds is left alone. Returns what it
 * removed, one line each; failures are logged and do not stop the sweep.
 */
export async function removeLeftovers(options: LeftoverOptions): Promise<string[]> {
  const { run, log } = options;
  const mounts = options.mounts ?? readMountinfo;
  const alive = options.isRunAlive ?? runIsAlive;
  const killHolders = options.killHolders ?? killProcessesBelow;
  const isStale = (pid: number, owner: RunOwner | undefined) => pid === process.pid || !alive(pid, owner);
  const removed: string[] = [];
  const attempt = async (what: string, fn: () => Promise<boolean | void>) => {
    try {
      if ((await fn()) !== false) removed.push(what);
    } catch (err) {
      log.warn(`could not remove leftover ${what}: ${describeError(err)}`);
    }
  };

  const owners = new Map<number, RunOwner | undefined>();
  for (const name of safeReaddir(options.workDir)) {
    if (!/^\d+$/.test(name)) continue;
    const dir = RunDir.open(options.workDir, Number(name));
    const owner = dir.owner();
    owners.set(dir.pid, owner);
    if (!isStale(dir.pid, owner)) continue;
    log.info(`removing what the dead run ${dir.pid} left behind (${dir.path})`);
    const killed = await killHolders(dir.path);
    if (killed > 0) removed.push(`${killed} process(es) of run ${dir.pid} still reading its snapshots`);
    const intents = dir.intents();
    for (const i of intents) {
      if (i.kind === 'frozen') await attempt(`freeze of ${i.path}`, async () => (await run(['fsfreeze', '--unfreeze', i.path])).code === 0);
    }
    for (const m of mountsBelow(mounts(), dir.path)) await attempt(`mount ${m.target}`, () => unmount(run, m.target));
    for (const i of intents) {
      if (i.kind === 'btrfs') await attempt(`btrfs snapshot ${i.path}`, () => deleteSubvolume(run, i.path));
    }
    dir.remove();
  }

  if (options.lvm) {
    const lvs = await listLvs(run, [], { all: false }).catch((err: unknown) => {
      log.warn(`could not list LVs to look for leftover snapshots: ${describeError(err)}`);
      return [];
    });
    const mounted = new Set(mounts().map((m) => m.device));
    for (const lv of lvs) {
      if (!lv.name.startsWith(SNAPSHOT_PREFIX)) continue;
      const pid = pidOfSnapshotName(lv.name);
      if (pid === null || !isStale(pid, owners.get(pid))) continue;
      if (lv.major !== null && mounted.has(`${lv.major}:${lv.minor}`)) {
        log.warn(`leftover snapshot ${lv.vg}/${lv.name} is mounted outside diskless's work dir: not removed; unmount it, then lvremove ${lv.vg}/${lv.name}`);
        continue;
      }
      await attempt(`snapshot LV ${lv.vg}/${lv.name}`, async () => {
        const r = await run(['lvremove', '-y', `${lv.vg}/${lv.name}`]);
        if (r.code !== 0) throw new Error(r.stderr.trim() || `lvremove exited with ${r.code}`);
      });
    }
  }

  for (const base of options.btrfsPaths ?? []) {
    for (const name of safeReaddir(base)) {
      const pid = pidOfSnapshotName(name);
      if (!name.startsWith(`.${SNAPSHOT_PREFIX}`) || pid === null || !isStale(pid, owners.get(pid))) continue;
      await attempt(`btrfs snapshot ${join(base, name)}`, () => deleteSubvolume(run, join(base, name)));
    }
  }
  for (const r of removed) log.info(`removed leftover ${r}`);
  return removed;
}

async function deleteSubvolume(run: CommandRunner, path: string): Promise<boolean> {
  const r = await run(['btrfs', 'subvolume', 'delete', path]);
  if (r.code === 0) return true;
  if (/No such file|not found|does not exist/i.test(r.stderr)) return false;
  throw new Error(r.stderr.trim() || `btrfs subvolume delete exited with ${r.code}`);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** SIGKILLs every process whose cwd or root lies below `dir`, and waits (≤ 5 s) until they are gone. */
export async function killProcessesBelow(dir: string): Promise<number> {
  const victims: number[] = [];
  for (const name of safeReaddir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    for (const link of ['cwd', 'root']) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${name}/${link}`);
      } catch {
        continue;
      }
      if (target === dir || target.startsWith(`${dir}/`)) {
        victims.push(Number(name));
        break;
      }
    }
  }
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && victims.some(isRunning)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return victims.length;
}

/** A process that exists and is not a zombie (a zombie holds no files; its reaper may be slow). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
