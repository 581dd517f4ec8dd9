import type { CleanupStack } from '../util/cleanup-stack.js';
import type { Logger } from '../util/log.js';
import type { CommandRunner } from './command-runner.js';
import type { RunDir } from './run-dir.js';

/** What a method hands to the job: a directory tar can read, consistent for as long as the stream lasts. */
export interface PreparedSource {
  /** The snapshot's mount, the btrfs snapshot, or the live (frozen) tree. */
  dir: string;
  /** Aborts if the copy stops being trustworthy mid-stream (snapshot filling up, freeze timeout). */
  failed: AbortSignal;
  /** Last check before the commit; throws if the copy may be inconsistent. */
  verify(): Promise<void>;
  /** Accept tar's "file changed as we read it" (exit 1): only for a live tree (--method none). */
  allowChanged: boolean;
  /** For the manifest: what was snapshotted and how. */
  details: Record<string, unknown>;
  /** Highest snapshot/pool usage seen (LVM), for the manifest. */
  maxFillPercent?: () => number;
}

/** What every method gets: how to run tools, where to mount, and the stack to push undo steps on. */
export interface MethodEnv {
  run: CommandRunner;
  log: Logger;
  runDir: RunDir;
  stack: CleanupStack;
  /** Run timestamp (same for every volume of the run), used in btrfs snapshot names. */
  timestamp: string;
  fillAbortPercent: number;
  fillIntervalMs: number;
  freezeTimeoutMs: number;
}

export const NEVER: AbortSignal = new AbortController().signal;
