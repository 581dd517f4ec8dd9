import { statSync } from 'node:fs';
import { PreflightError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { formatBytes } from '../util/size.js';
import type { CommandRunner } from './command-runner.js';
import type { LogicalVolume, VolumeGroup } from './lvm.js';
import type { Compression } from './tar-stream.js';
import type { SnapshotMethod, VolumePlan } from './volume-plan.js';

const APT = 'apt-get install -y --no-install-recommends';

/** Which programs a method needs, and the Debian package of each. */
export function requiredTools(method: SnapshotMethod, compress?: Compression): Array<{ argv: string[]; pkg: string }> {
  const tools = [{ argv: ['tar', '--version'], pkg: 'tar' }];
  if (method === 'lvm') tools.push({ argv: ['lvm', 'version'], pkg: 'lvm2' }, { argv: ['mount', '--version'], pkg: 'mount' });
  if (method === 'btrfs') tools.push({ argv: ['btrfs', '--version'], pkg: 'btrfs-progs' });
  if (method === 'fsfreeze') tools.push({ argv: ['fsfreeze', '--version'], pkg: 'util-linux' }, { argv: ['bash', '--version'], pkg: 'bash' });
  if (compress) tools.push({ argv: [compress, '--version'], pkg: compress });
  return tools;
}

/**
 * Before anything is created: root (snapshots, mounts and freezes need it), and every tool the
 * method uses, each missing one named with its package. `lvm version` also fails when the kernel
 * has no device-mapper, which is reported as such.
 */
export async function checkLocalPrerequisites(
  run: CommandRunner,
  method: SnapshotMethod,
  compress: Compression | undefined,
  uid: number,
  log: Logger,
): Promise<void> {
  if (uid !== 0) {
    if (method !== 'none') throw new PreflightError(`--method ${method} needs root (snapshots, mounts and freezes are privileged); run it as root`);
    log.warn('not root: files this user cannot read will be missing from the archive, and tar will fail on them');
  }
  const missing: string[] = [];
  for (const tool of requiredTools(method, compress)) {
    const r = await run(tool.argv, { timeoutMs: 30_000 });
    if (r.code === 127) missing.push(tool.pkg);
    else if (r.code !== 0 && tool.pkg === 'lvm2') {
      const why = /device-mapper/i.test(r.stderr) ? 'the kernel has no device-mapper (modprobe dm-mod)' : r.stderr.trim().split('\n').pop();
      throw new PreflightError(`LVM is not usable here: ${why}`);
    }
  }
  if (missing.length > 0) {
    throw new PreflightError(`missing tools for --method ${method}: ${missing.join(', ')}`, { hints: [`${APT} ${[...new Set(missing)].join(' ')}`] });
  }
}

/**
 * Enough room for the snapshots: volumes are done one after another, so a VG needs free extents
 * for its largest classic snapshot (not the sum); a thin pool must be below the fill limit, and
 * is warned about from 80%.
 */
export function checkSnapshotSpace(volumes: readonly VolumePlan[], vgs: readonly VolumeGroup[], lvs: readonly LogicalVolume[], fillAbortPercent: number, log: Logger): void {
  const need = new Map<string, { bytes: number; label: string }>();
  for (const v of volumes) {
    if (v.method !== 'lvm') continue;
    if (v.snapshot.kind === 'classic') {
      const cur = need.get(v.vg);
      if (!cur || cur.bytes < v.snapshot.size) need.set(v.vg, { bytes: v.snapshot.size, label: v.label });
    } else {
      const pool = lvs.find((l) => l.vg === v.vg && l.name === (v.snapshot as { pool: string }).pool);
      const used = Math.max(pool?.dataPercent ?? 0, pool?.metadataPercent ?? 0);
      if (used >= fillAbortPercent) {
        throw new PreflightError(`thin pool ${v.vg}/${v.snapshot.pool} is ${used}% full (the limit is ${fillAbortPercent}%): no room for the snapshot of ${v.label}`, {
          hints: [`lvextend the pool (lvextend -L +SIZE ${v.vg}/${v.snapshot.pool}) or free space in it`],
        });
      }
      if (used >= 80) log.warn(`thin pool ${v.vg}/${v.snapshot.pool} is ${used}% full; writes during the backup of ${v.label} may fill it`);
    }
  }
  for (const [vgName, { bytes, label }] of need) {
    const vg = vgs.find((g) => g.name === vgName);
    const free = vg?.free ?? 0;
    if (free < bytes) {
      throw new PreflightError(
        `volume group ${vgName} has ${formatBytes(free)} free, and the snapshot of ${label} needs ${formatBytes(bytes)}`,
        { hints: ['give a smaller --snapshot-size (it must still hold everything written during the backup), or add a PV (vgextend)'] },
      );
    }
  }
}

/**
 * --method fsfreeze: nothing diskless writes may live on the filesystem it freezes (the upload
 * journal in the state dir, the work dir): a write there would block diskless itself until the
 * timeout.
 */
export function checkFreezeTargets(volumes: readonly VolumePlan[], ownPaths: readonly string[]): void {
  for (const v of volumes) {
    if (v.method !== 'fsfreeze') continue;
    const dev = statSync(v.path).dev;
    for (const p of ownPaths) {
      let pdev: number | undefined;
      try {
        pdev = statSync(p).dev;
      } catch {
        continue;
      }
      if (pdev === dev) throw new PreflightError(`--method fsfreeze ${v.path}: diskless itself writes to ${p}, on the same filesystem; it would block on its own freeze`);
    }
  }
}
