import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ProducerError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { commandFailed, runSyncChecked, type CommandRunner } from './command-runner.js';

/**
 * Mount options to try, in order, for a snapshot of a filesystem that was mounted (and written)
 * when the snapshot was taken. The first set replays the journal if the snapshot needs it, which
 * gives the consistent state; the second skips the replay (read-only device, or a replay that
 * fails), which still gives what the freeze during lvcreate flushed.
 *  - xfs: the snapshot has the origin's UUID, which xfs refuses to mount twice without `nouuid`.
 *  - ext4: `noload` = do not load the journal.
 */
export function mountOptionSets(fstype: string): string[][] {
  const base = ['ro', 'nodev', 'nosuid', 'noexec'];
  switch (fstype) {
    case 'xfs':
      return [[...base, 'nouuid'], [...base, 'nouuid', 'norecovery']];
    case 'ext4':
    case 'ext3':
      return [base, [...base, 'noload']];
    default:
      return [base];
  }
}

export interface ReadOnlyMount {
  target: string;
  options: string[];
  unmount(): Promise<void>;
  unmountSync(): void;
}

/**
 * Mounts `device` read-only on `target` (created, with its missing parents up to `root`, and
 * removed again on unmount). Fails for btrfs: an LVM snapshot of a mounted btrfs carries the
 * same filesystem UUID, and the kernel would treat both devices as one filesystem.
 */
export async function mountReadOnly(
  run: CommandRunner,
  spec: { device: string; target: string; fstype: string; root: string },
  log: Logger,
): Promise<ReadOnlyMount> {
  if (spec.fstype === 'btrfs') {
    throw new ProducerError(`${spec.device} holds btrfs, which cannot be mounted from an LVM snapshot while the origin is mounted; use --method btrfs`);
  }
  const created = makeDirs(spec.target, spec.root);
  const sets = mountOptionSets(spec.fstype);
  let lastError: Error | undefined;
  for (const options of sets) {
    const argv = ['mount', '-t', spec.fstype, '-o', options.join(','), spec.device, spec.target];
    const result = await run(argv);
    if (result.code === 0) {
      if (options !== sets[0]) log.warn(`${spec.device} mounted with ${options.join(',')} after the first attempt failed (${lastError?.message})`);
      return {
        target: spec.target,
        options,
        unmount: () => unmount(run, spec.target, created),
        unmountSync: () => {
          runSyncChecked(['umount', spec.target]);
          removeDirs(created);
        },
      };
    }
    lastError = commandFailed(argv, result);
  }
  removeDirs(created);
  throw lastError!;
}

/** umount, retrying a few times while something (tar being killed) still holds it. */
export async function unmount(run: CommandRunner, target: string, created: readonly string[] = []): Promise<void> {
  let last;
  for (let attempt = 0; attempt < 10; attempt++) {
    last = await run(['umount', target]);
    if (last.code === 0 || /not mounted|no mount point specified/i.test(last.stderr)) {
      removeDirs(created);
      return;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw commandFailed(['umount', target], last!);
}

/** mkdir -p below `root` (which must exist), returning the directories it created, deepest first. */
export function makeDirs(target: string, root: string): string[] {
  const missing: string[] = [];
  for (let dir = target; dir.startsWith(`${root}/`) && !exists(dir); dir = dirname(dir)) missing.push(dir);
  for (const dir of [...missing].reverse()) mkdirSync(dir, { mode: 0o700 });
  return missing;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeDirs(created: readonly string[]): void {
  for (const dir of created) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (another mount of this run below it) or already gone
    }
  }
}
