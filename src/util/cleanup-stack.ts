import { describeError } from '../errors.js';

/** One undo step: `run` is the normal (async) way; `runSync` the last resort when the process exits. */
export interface Disposer {
  name: string;
  run: () => Promise<void>;
  /** Synchronous fallback (execFileSync …) for process 'exit', when nothing async can run any more. */
  runSync?: () => void;
}

export interface CleanupFailure {
  name: string;
  error: unknown;
}

/**
 * Undo steps run in reverse order of registration (LIFO): a snapshot is created, then mounted,
 * then read by tar; cleanup stops tar, unmounts, removes the snapshot. Every step runs even when
 * an earlier one failed (a failed unmount must not skip the thaw of another filesystem); the
 * failures are returned, not thrown, so the caller's own error stays the one reported.
 *
 * Signals reach the stack through the caller's AbortSignal (the CLI turns SIGINT/SIGTERM into
 * one): the operation fails, and its `finally` calls dispose(). `bindToExit()` adds the last line
 * of defence: if the process exits while steps are pending (a second signal makes the CLI call
 * process.exit at once), their synchronous fallbacks run from the 'exit' event.
 */
export class CleanupStack {
  private readonly steps: Disposer[] = [];
  private exitHook: (() => void) | undefined;
  private disposing: Promise<CleanupFailure[]> | undefined;

  get size(): number {
    return this.steps.length;
  }

  /** Registers an undo step; returns a function that removes it without running it. */
  defer(step: Disposer): () => void {
    this.steps.push(step);
    return () => {
      const i = this.steps.lastIndexOf(step);
      if (i >= 0) this.steps.splice(i, 1);
    };
  }

  /**
   * Runs a registered step now, e.g. the normal unmount after tar finished. On success it is
   * removed; if it throws it stays in place, so dispose() tries it again in its turn.
   */
  async release(step: Disposer): Promise<void> {
    if (!this.steps.includes(step)) return;
    await step.run();
    const i = this.steps.lastIndexOf(step);
    if (i >= 0) this.steps.splice(i, 1);
  }

  /** Runs every pending step, last registered first; never throws. Calling it twice runs them once. */
  dispose(): Promise<CleanupFailure[]> {
    this.disposing ??= (async () => {
      const failures: CleanupFailure[] = [];
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await step.run();
        } catch (error) {
          failures.push({ name: step.name, error });
        }
      }
      this.unbindExit();
      return failures;
    })();
    return this.disposing;
  }

  /** Runs the synchronous fallbacks of the pending steps (from process 'exit'). */
  disposeSync(): CleanupFailure[] {
    const failures: CleanupFailure[] = [];
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        step.runSync?.();
      } catch (error) {
        failures.push({ name: step.name, error });
      }
    }
    return failures;
  }

  /** While bound, process 'exit' runs the synchronous fallbacks and reports failures on `report`. */
  bindToExit(report: (line: string) => void): void {
    if (this.exitHook) return;
    this.exitHook = () => {
      for (const f of this.disposeSync()) report(`cleanup at exit: ${f.name} failed: ${describeError(f.error)}`);
    };
    process.on('exit', this.exitHook);
  }

  unbindExit(): void {
    if (this.exitHook) process.off('exit', this.exitHook);
    this.exitHook = undefined;
  }
}

/** Formats dispose() failures for one warning line. */
export function describeCleanupFailures(failures: readonly CleanupFailure[]): string {
  return failures.map((f) => `${f.name}: ${describeError(f.error)}`).join('; ');
}
