import { ProducerError } from '../errors.js';
import { formatBytes } from '../util/size.js';
import { runChecked, runSyncChecked, type CommandRunner } from './command-runner.js';
import { FillWatch, type FillTarget } from './fill-watch.js';
import { findLv, isInvalidSnapshot } from './lvm.js';
import { mountReadOnly } from './mount-readonly.js';
import type { MethodEnv, PreparedSource } from './source.js';
import type { LvmVolume } from './volume-plan.js';

/** Tag on every snapshot diskless creates (besides its name), so `lvs @diskless-snapshot` lists them. */
export const SNAPSHOT_TAG = 'diskless-snapshot';

/** The lvcreate (and lvchange) commands for a volume's snapshot. */
export function snapshotCommands(v: LvmVolume): string[][] {
  const origin = `${v.vg}/${v.lv}`;
  if (v.snapshot.kind === 'classic') {
    return [['lvcreate', '-y', '-s', '-L', `${v.snapshot.size}b`, '-n', v.snapshot.name, '--addtag', SNAPSHOT_TAG, origin]];
  }
  // Thin snapshots carry the activation-skip flag: -K activates one anyway.
  return [
    ['lvcreate', '-y', '-s', '-n', v.snapshot.name, '--addtag', SNAPSHOT_TAG, origin],
    ['lvchange', '-ay', '-K', `${v.vg}/${v.snapshot.name}`],
  ];
}

/** lvremove that tolerates an LV already gone, and retries while the device is still busy. */
export async function removeSnapshotLv(run: CommandRunner, vg: string, name: string): Promise<void> {
  let last;
  for (let attempt = 0; attempt < 10; attempt++) {
    last = await run(['lvremove', '-y', `${vg}/${name}`]);
    if (last.code === 0 || /failed to find|not found/i.test(last.stderr)) return;
    if (!/in use|busy|open/i.test(last.stderr)) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new ProducerError(`lvremove -y ${vg}/${name} failed: ${last!.stderr.trim().split('\n').pop()}`);
}

/**
 * --method lvm: snapshot (classic with its copy-on-write size, or thin), mount it read-only
 * below the run's private directory, and watch how full it gets while tar reads it. Undo steps,
 * pushed before each action so that a failure half-way is undone too: remove the LV, unmount, stop
 * the watch (run in reverse).
 */
export async function prepareLvm(v: LvmVolume, env: MethodEnv): Promise<PreparedSource> {
  const { run, log, runDir, stack } = env;
  const snap = v.snapshot;
  runDir.record({ kind: 'lv', vg: v.vg, name: snap.name });
  stack.defer({
    name: `remove snapshot ${v.vg}/${snap.name}`,
    run: () => removeSnapshotLv(run, v.vg, snap.name),
    runSync: () => runSyncChecked(['lvremove', '-y', `${v.vg}/${snap.name}`]),
  });
  for (const argv of snapshotCommands(v)) await runChecked(run, argv);
  const device = `/dev/${v.vg}/${snap.name}`;
  log.info(
    `${v.label}: ${snap.kind} snapshot ${v.vg}/${snap.name} created` +
      (snap.kind === 'classic' ? ` (${formatBytes(snap.size)} copy-on-write space)` : ` (thin pool ${v.vg}/${snap.pool})`),
  );

  const remedy =
    snap.kind === 'classic'
      ? `give the snapshot more copy-on-write space (--snapshot-size, e.g. ${Math.min(100, Math.ceil((snap.size / v.size) * 200))}%ORIGIN), or back up when less is written`
      : `free space in thin pool ${v.vg}/${snap.pool} (lvextend it) before the backup`;

  const target = runDir.mountPathFor(v.mountpoint ?? `${v.vg}/${v.lv}`);
  runDir.record({ kind: 'mount', path: target });
  const mount = await mountReadOnly(run, { device, target, fstype: v.fstype, root: runDir.path }, log).catch(async (err: unknown) => {
    // A classic snapshot can overflow before it is even mounted (the origin written fast): say that, not "mount failed".
    if (snap.kind === 'classic' && (await overflowed(run, v.vg, snap.name))) {
      throw new ProducerError(
        `snapshot ${v.vg}/${snap.name} of ${v.label} overflowed before it could be mounted (its ${formatBytes(snap.size)} of copy-on-write space filled up) ` +
          'and the kernel invalidated it; nothing of this volume was committed',
        {},
        { hints: [remedy] },
      );
    }
    throw err;
  });
  stack.defer({ name: `unmount ${target}`, run: () => mount.unmount(), runSync: () => mount.unmountSync() });
  log.debug(`${v.label}: snapshot mounted read-only on ${target} (-o ${mount.options.join(',')})`);

  const targets: FillTarget[] =
    snap.kind === 'classic'
      ? [{ lv: `${v.vg}/${snap.name}`, what: `snapshot ${v.vg}/${snap.name} of ${v.label}`, remedy }]
      : [{ lv: `${v.vg}/${snap.pool}`, what: `thin pool ${v.vg}/${snap.pool} (holding the snapshot of ${v.label})`, remedy }];
  const watch = new FillWatch({ run, targets, abortAtPercent: env.fillAbortPercent, intervalMs: env.fillIntervalMs, log }).start();
  stack.defer({ name: 'stop the fill watch', run: () => watch.stop() });
  return {
    dir: target,
    failed: watch.signal,
    verify: () => watch.check(),
    allowChanged: false,
    maxFillPercent: () => watch.maxPercent,
    details: {
      snapshot: `${v.vg}/${snap.name}`,
      kind: snap.kind,
      ...(snap.kind === 'classic' ? { snapshotSize: snap.size } : { pool: `${v.vg}/${snap.pool}` }),
      mountOptions: mount.options,
    },
  };
}

/** Whether the classic snapshot vg/name is there and invalidated (it overflowed); false when lvs cannot tell. */
async function overflowed(run: CommandRunner, vg: string, name: string): Promise<boolean> {
  const lv = await findLv(run, vg, name).catch(() => undefined);
  return lv !== undefined && isInvalidSnapshot(lv);
}
