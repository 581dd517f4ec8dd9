import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { ProducerError } from '../errors.js';
import { runChecked, runSyncChecked, type CommandRunner } from './command-runner.js';
import type { MethodEnv, PreparedSource } from './source.js';
import type { PathVolume } from './volume-plan.js';

/**
 * The guard thaws `path` unless told "thawed" on stdin before `seconds`: it runs in its own
 * session (a Ctrl-C to diskless's terminal does not reach it) and ignores SIGINT/SIGTERM/SIGHUP,
 * so a frozen filesystem is thawed even when diskless is SIGKILLed (its end of the pipe closes,
 * `read` returns) or hangs (the timeout). fsfreeze --unfreeze on a thawed filesystem fails harmlessly.
 */
export const THAW_GUARD_SCRIPT =
  'trap "" INT TERM HUP; if read -r -t "$1" line && [ "$line" = thawed ]; then exit 0; fi; ' +
  'fsfreeze --unfreeze "$2" 2>/dev/null; exit 0';

export interface ThawGuard {
  /** Tells the guard the filesystem was thawed normally: it exits without touching it. */
  dismiss(): void;
}

export function startThawGuard(path: string, timeoutSeconds: number): ThawGuard {
  const child = spawn('bash', ['-c', THAW_GUARD_SCRIPT, 'diskless-thaw-guard', String(Math.ceil(timeoutSeconds)), path], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
    cwd: '/',
  });
  child.on('error', () => {});
  child.stdin!.on('error', () => {});
  child.unref();
  (child.stdin as unknown as Socket).unref?.();
  return {
    dismiss() {
      child.stdin!.end('thawed\n');
    },
  };
}

async function thaw(run: CommandRunner, path: string): Promise<void> {
  const r = await run(['fsfreeze', '--unfreeze', path], { timeoutMs: 30_000 });
  // EINVAL: not frozen (already thawed, e.g. by the guard after a timeout).
  if (r.code !== 0 && !/invalid argument/i.test(r.stderr)) throw new ProducerError(`fsfreeze --unfreeze ${path} failed: ${r.stderr.trim()}`);
}

/**
 * --method fsfreeze: freezes the filesystem for the whole stream, so tar reads a tree nobody can
 * change; every writer on it blocks until the thaw. The freeze is bounded: at `freezeTimeoutMs`
 * the volume fails (nothing committed) and the filesystem is thawed; a guard process thaws it
 * even if diskless is killed. Use it only for filesystems whose writers can wait (LVM and btrfs
 * snapshots freeze only for the instant the snapshot takes, by themselves).
 */
export async function prepareFsfreeze(v: PathVolume, env: MethodEnv): Promise<PreparedSource> {
  const { run, log, runDir, stack } = env;
  const seconds = env.freezeTimeoutMs / 1000;
  // The guard's own deadline is a little later than ours, so the normal path (our timeout) thaws first.
  const guard = startThawGuard(v.path, seconds + 10);
  runDir.record({ kind: 'frozen', path: v.path });
  stack.defer({
    name: `thaw ${v.path}`,
    run: async () => {
      await thaw(run, v.path);
      guard.dismiss();
    },
    runSync: () => runSyncChecked(['fsfreeze', '--unfreeze', v.path]),
  });
  await runChecked(run, ['fsfreeze', '--freeze', v.path], { timeoutMs: 60_000 });
  log.warn(
    `${v.path} is FROZEN: every write to it blocks until the archive is stored (at most ${seconds} s, --freeze-timeout); ` +
      'it is thawed at the end, on any failure, on SIGINT/SIGTERM, and by a guard process if diskless is killed',
  );
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new ProducerError(`${v.path} stayed frozen for the whole --freeze-timeout (${seconds} s) before the archive was stored: thawed, nothing of this volume was committed`, {}, {
          hints: ['raise --freeze-timeout, or use a snapshot method (--method lvm or btrfs), which freezes only for an instant'],
        }),
      ),
    env.freezeTimeoutMs,
  );
  timer.unref();
  stack.defer({ name: 'stop the freeze timer', run: async () => clearTimeout(timer) });
  return {
    dir: v.path,
    failed: controller.signal,
    verify: async () => {
      if (controller.signal.aborted) throw controller.signal.reason;
    },
    allowChanged: false,
    details: { kind: 'fsfreeze', frozen: v.path, freezeTimeoutSeconds: seconds },
  };
}
