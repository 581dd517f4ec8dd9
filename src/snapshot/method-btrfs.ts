import { join } from 'node:path';
import { runChecked, runSyncChecked, type CommandRunner } from './command-runner.js';
import { SNAPSHOT_PREFIX } from './run-dir.js';
import { NEVER, type MethodEnv, type PreparedSource } from './source.js';
import type { PathVolume } from './volume-plan.js';

/** `<subvolume>/.diskless-snap-<pid>-<timestamp>`: inside the subvolume, so on the same filesystem. */
export function btrfsSnapshotPath(subvolume: string, timestamp: string, pid = process.pid): string {
  return join(subvolume, `.${SNAPSHOT_PREFIX}${pid}-${timestamp}`);
}

async function deleteSubvolume(run: CommandRunner, path: string): Promise<void> {
  const r = await run(['btrfs', 'subvolume', 'delete', path]);
  if (r.code !== 0 && !/No such file|not found|does not exist/i.test(r.stderr)) {
    throw new Error(`btrfs subvolume delete ${path} failed: ${r.stderr.trim()}`);
  }
}

/**
 * --method btrfs: a read-only snapshot of the subvolume (atomic, no freeze needed), read by tar
 * in place and deleted afterwards. Snapshots are not recursive: subvolumes nested inside appear as
 * empty directories, as they would with --one-file-system.
 */
export async function prepareBtrfs(v: PathVolume, env: MethodEnv): Promise<PreparedSource> {
  const { run, log, runDir, stack } = env;
  const path = btrfsSnapshotPath(v.path, env.timestamp);
  runDir.record({ kind: 'btrfs', path });
  stack.defer({
    name: `delete btrfs snapshot ${path}`,
    run: () => deleteSubvolume(run, path),
    runSync: () => runSyncChecked(['btrfs', 'subvolume', 'delete', path]),
  });
  await runChecked(run, ['btrfs', 'subvolume', 'snapshot', '-r', v.path, path]);
  log.info(`${v.label}: read-only btrfs snapshot ${path} created`);
  return { dir: path, failed: NEVER, verify: async () => {}, allowChanged: false, details: { snapshot: path, kind: 'btrfs' } };
}
