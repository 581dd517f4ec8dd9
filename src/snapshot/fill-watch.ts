import { ProducerError, describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { formatBytes } from '../util/size.js';
import type { CommandRunner } from './command-runner.js';
import { findLv, isInvalidSnapshot, type LogicalVolume } from './lvm.js';

export interface FillTarget {
  /** `vg/lv` to poll: a classic snapshot, or the thin pool of a thin snapshot. */
  lv: string;
  /** For messages: "snapshot vg0/diskless-snap-… of vg0/data". */
  what: string;
  /** What to tell the user to change. */
  remedy: string;
}

export interface FillWatchOptions {
  run: CommandRunner;
  targets: readonly FillTarget[];
  /** Abort at this data (or metadata) percentage; must stay below 100, where a classic snapshot is dropped. */
  abortAtPercent: number;
  intervalMs: number;
  log: Logger;
}

/**
 * Polls the usage of a classic snapshot's copy-on-write space (or of a thin pool) while tar reads
 * the snapshot. At `abortAtPercent`, or if the kernel already invalidated the snapshot, `signal`
 * aborts with a ProducerError that says what filled up and what to change; the job stops tar and
 * aborts the upload, so nothing of that volume is committed. `check()` polls once more before the
 * commit: a snapshot that overflowed between two polls must not pass.
 */
export class FillWatch {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling: Promise<void> | undefined;
  /** Highest usage seen, in percent (for the manifest and the summary). */
  maxPercent = 0;

  constructor(private readonly options: FillWatchOptions) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): this {
    const tick = () => {
      if (this.stopped) return;
      this.polling = this.poll().finally(() => {
        if (!this.stopped && !this.controller.signal.aborted) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    tick();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One more poll now; throws the fill error if the threshold was reached at any time. */
  async check(): Promise<void> {
    await this.polling;
    await this.poll();
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  private async poll(): Promise<void> {
    for (const target of this.options.targets) {
      if (this.controller.signal.aborted) return;
      const [vg, name] = target.lv.split('/') as [string, string];
      let lv: LogicalVolume | undefined;
      try {
        lv = await findLv(this.options.run, vg, name);
      } catch (err) {
        this.options.log.debug(`fill watch: lvs ${target.lv} failed: ${describeError(err)}`);
      }
      if (!lv) {
        this.fail(new ProducerError(`${target.what} disappeared while it was being read; nothing of this volume was committed`));
        return;
      }
      const used = Math.max(lv.dataPercent ?? 0, lv.metadataPercent ?? 0);
      this.maxPercent = Math.max(this.maxPercent, used);
      if (isInvalidSnapshot(lv)) {
        this.fail(
          new ProducerError(
            `${target.what} overflowed (its ${formatBytes(lv.size)} of copy-on-write space filled up) and the kernel invalidated it; ` +
              `nothing of this volume was committed`,
            {},
            { hints: [target.remedy] },
          ),
        );
        return;
      }
      if (used >= this.options.abortAtPercent) {
        this.fail(
          new ProducerError(
            `${target.what} reached ${used.toFixed(1)}% of its ${formatBytes(lv.size)} (the limit is ${this.options.abortAtPercent}%): ` +
              `the origin changed faster than the snapshot can hold; stopped before it overflowed, nothing of this volume was committed`,
            {},
            { hints: [target.remedy] },
          ),
        );
        return;
      }
    }
  }

  private fail(err: ProducerError): void {
    if (!this.controller.signal.aborted) this.controller.abort(err);
  }
}
