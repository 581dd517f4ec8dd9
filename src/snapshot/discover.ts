import { realpathSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Logger } from '../util/log.js';
import type { CommandRunner } from './command-runner.js';
import { isInternal, isSnapshot, isThin, listLvs, listVgs, type LogicalVolume, type VolumeGroup } from './lvm.js';
import type { MountEntry } from './mountinfo.js';
import { SNAPSHOT_PREFIX, snapshotLvName } from './run-dir.js';
import type { Compression } from './tar-stream.js';
import {
  pathSlug,
  renderKey,
  snapshotBytes,
  type LvmVolume,
  type PathVolume,
  type SnapshotMethod,
  type SnapshotSize,
  type VolumePlan,
} from './volume-plan.js';

export interface VolumeRequest {
  method: SnapshotMethod;
  /** `--volume VG/LV`, repeatable. */
  volumes: readonly string[];
  /** `--mount PATH`, repeatable. */
  mounts: readonly string[];
  all: boolean;
}

export interface DiscoverContext {
  run: CommandRunner;
  /** The mount table (mountinfo.ts). */
  mounts: readonly MountEntry[];
  log: Logger;
  realpath?: (path: string) => string;
  pid?: number;
}

export interface KeyContext {
  prefix: string;
  template: string;
  host: string;
  timestamp: string;
  compress?: Compression;
  snapshotSize: SnapshotSize;
}

export interface Discovery {
  volumes: VolumePlan[];
  /** The VGs and LVs as they were at planning time (LVM method only). */
  vgs: VolumeGroup[];
  lvs: LogicalVolume[];
}

/** Filesystems that never hold data worth a snapshot, for --all. */
const SKIP_FSTYPES = new Set(['swap', 'proc', 'sysfs', 'tmpfs', 'devtmpfs', 'cgroup', 'cgroup2', 'devpts', 'hostfs']);

/**
 * Turns what the user asked for into the list of volumes to back up, in a stable order, each with
 * its method, mount point, filesystem, snapshot plan and object key. Every mistake is a
 * UsageError before anything is created: an unknown LV, a snapshot given as a volume, swap, a path
 * that is not on LVM, two volumes that would write the same key.
 */
export async function discoverVolumes(req: VolumeRequest, ctx: DiscoverContext, keys: KeyContext): Promise<Discovery> {
  const requested = req.volumes.length + req.mounts.length;
  if (req.all && requested > 0) throw new UsageError('--all backs up every mounted LV: give it alone, or list volumes with --volume/--mount');
  if (!req.all && requested === 0) throw new UsageError('nothing to back up: give --volume VG/LV, --mount PATH (repeatable) or --all');
  const volumes = req.method === 'lvm' ? await lvmVolumes(req, ctx, keys) : { volumes: pathVolumes(req, ctx, keys), vgs: [], lvs: [] };
  const seen = new Map<string, string>();
  for (const v of volumes.volumes) {
    const other = seen.get(v.key);
    if (other) throw new UsageError(`${other} and ${v.label} would both be stored as ${v.key}; give --key a template with {name}`);
    seen.set(v.key, v.label);
  }
  return volumes;
}

async function lvmVolumes(req: VolumeRequest, ctx: DiscoverContext, keys: KeyContext): Promise<Discovery> {
  const lvs = await listLvs(ctx.run, [], { all: true });
  const vgs = await listVgs(ctx.run);
  const byDevice = new Map<string, MountEntry>();
  for (const m of ctx.mounts) if (!byDevice.has(m.device)) byDevice.set(m.device, m);
  const deviceOf = (lv: LogicalVolume) => (lv.major === null ? undefined : `${lv.major}:${lv.minor}`);
  const mountOf = (lv: LogicalVolume) => {
    const dev = deviceOf(lv);
    return dev ? byDevice.get(dev) : undefined;
  };

  const chosen: Array<{ lv: LogicalVolume; mount: MountEntry | undefined }> = [];
  const add = (lv: LogicalVolume, mount: MountEntry | undefined) => {
    if (!chosen.some((c) => c.lv.vg === lv.vg && c.lv.name === lv.name)) chosen.push({ lv, mount });
  };
  if (req.all) {
    for (const lv of lvs) {
      if (isInternal(lv) || isSnapshot(lv) || lv.name.startsWith(SNAPSHOT_PREFIX)) continue;
      const mount = mountOf(lv);
      if (!mount || SKIP_FSTYPES.has(mount.fstype)) continue;
      if (mount.fstype === 'btrfs') {
        ctx.log.warn(`--all: skipping ${lv.vg}/${lv.name} (btrfs on ${mount.target}): back it up with --method btrfs --mount ${mount.target}`);
        continue;
      }
      add(lv, mount);
    }
    if (chosen.length === 0) throw new UsageError('--all found no mounted logical volume to back up');
  }
  for (const spec of req.volumes) {
    const m = /^([^/\s]+)\/([^/\s]+)$/.exec(spec.replace(/^\/dev\//, ''));
    if (!m) throw new UsageError(`--volume ${spec}: write it as VG/LV (e.g. vg0/data)`);
    const lv = lvs.find((l) => l.vg === m[1] && l.name === m[2]);
    if (!lv) throw new UsageError(`--volume ${spec}: no such logical volume (lvs does not list it)`);
    if (isSnapshot(lv)) throw new UsageError(`--volume ${spec} is itself a snapshot; give its origin (${lv.vg}/${lv.origin})`);
    if (isInternal(lv)) throw new UsageError(`--volume ${spec} is a thin pool or an internal LV, not a filesystem`);
    add(lv, mountOf(lv));
  }
  const realpath = ctx.realpath ?? realpathSync;
  for (const path of req.mounts) {
    let target: string;
    try {
      target = realpath(path);
    } catch {
      throw new UsageError(`--mount ${path}: no such directory`);
    }
    const mount = ctx.mounts.find((e) => e.target === target);
    if (!mount) throw new UsageError(`--mount ${path}: not a mount point (findmnt ${path} shows nothing)`);
    const lv = lvs.find((l) => deviceOf(l) === mount.device);
    if (!lv) throw new UsageError(`--mount ${path}: ${mount.source} is not a logical volume; use --method btrfs, fsfreeze or none`);
    add(lv, mount);
  }

  const volumes: LvmVolume[] = [];
  for (const { lv, mount } of chosen) {
    const fstype = mount?.fstype ?? (await probeFstype(ctx.run, lv.path));
    if (fstype === 'swap') throw new UsageError(`${lv.vg}/${lv.name} is swap: there is nothing to archive`);
    if (!fstype) throw new UsageError(`${lv.vg}/${lv.name} holds no filesystem that blkid recognises`);
    const name = `${lv.vg}-${lv.name}`;
    const snapName = snapshotLvName(lv.name, ctx.pid);
    const vg = vgs.find((g) => g.name === lv.vg);
    const snapshot: LvmVolume['snapshot'] = isThin(lv)
      ? { kind: 'thin', name: snapName, pool: lv.pool }
      : { kind: 'classic', name: snapName, size: snapshotBytes(keys.snapshotSize, lv.size, vg?.extentSize ?? 0) };
    volumes.push({
      method: 'lvm',
      label: `${lv.vg}/${lv.name}`,
      name,
      mountpoint: mount?.target ?? null,
      fstype,
      vg: lv.vg,
      lv: lv.name,
      size: lv.size,
      snapshot,
      key: renderKey(keys.prefix, keys.template, { ...keys, name, vg: lv.vg, lv: lv.name, method: 'lvm' }),
    });
  }
  return { volumes, vgs, lvs };
}

function pathVolumes(req: VolumeRequest, ctx: DiscoverContext, keys: KeyContext): PathVolume[] {
  if (req.all) throw new UsageError(`--all works with --method lvm only; with --method ${req.method}, list the paths with --mount`);
  if (req.volumes.length > 0) throw new UsageError(`--volume works with --method lvm only; with --method ${req.method}, use --mount PATH`);
  const realpath = ctx.realpath ?? realpathSync;
  return req.mounts.map((given) => {
    let path: string;
    try {
      path = realpath(given);
    } catch {
      throw new UsageError(`--mount ${given}: no such directory`);
    }
    // The filesystem holding the path: the mount with the longest target that is a prefix of it.
    const mount = [...ctx.mounts]
      .filter((m) => path === m.target || path.startsWith(m.target === '/' ? '/' : `${m.target}/`))
      .sort((a, b) => b.target.length - a.target.length)[0];
    const fstype = mount?.fstype ?? '';
    if (req.method === 'btrfs' && fstype !== 'btrfs') throw new UsageError(`--mount ${given} is on ${fstype || 'an unknown filesystem'}, not btrfs`);
    if (req.method === 'fsfreeze') {
      if (!mount || mount.target !== path) throw new UsageError(`--mount ${given}: fsfreeze needs a mount point, and ${path} is not one`);
      if (path === '/') throw new UsageError('--method fsfreeze refuses the root filesystem: freezing / stops the whole system, diskless included');
    }
    const name = pathSlug(path);
    return {
      method: req.method as PathVolume['method'],
      label: path,
      name,
      mountpoint: mount?.target ?? null,
      fstype,
      path,
      key: renderKey(keys.prefix, keys.template, { ...keys, name, method: req.method }),
    };
  });
}

/** The filesystem type on an unmounted device: `blkid -p` reads the superblock itself (no udev needed). */
async function probeFstype(run: CommandRunner, device: string): Promise<string> {
  const r = await run(['blkid', '-p', '-o', 'value', '-s', 'TYPE', device]);
  return r.code === 0 ? r.stdout.trim() : '';
}
