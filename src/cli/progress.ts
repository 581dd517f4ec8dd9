import type { Command } from 'commander';
import { TransferMeter, type TransferSample } from '../upload/transfer-meter.js';
import { formatBytes } from '../util/size.js';
import type { CliLog } from './cli-log.js';
import { seconds } from './common-options.js';
import { stderrLine, type StatusLine } from './status-line.js';

/** The progress flags of every long command (put, run, serve, snapshot, restore). */
export interface ProgressFlags {
  progress?: boolean;
  progressInterval: number;
  quiet?: boolean;
}

export const DEFAULT_PROGRESS_INTERVAL_S = 30;

export function addProgressOptions(cmd: Command): Command {
  return cmd
    .option('--progress-interval <seconds>', 'off a terminal (or with --log-format json), print a progress line this often', seconds('--progress-interval'), DEFAULT_PROGRESS_INTERVAL_S)
    .option('--no-progress', 'no progress: neither the live line on a terminal nor the periodic lines');
}

/** One moment of a command's work, whatever the command: what the progress line shows. */
export interface ProgressSample {
  /** Bytes done: read from the input (uploads), or restored (restore). */
  bytes: number;
  /** Bytes the store acknowledged (uploads only). */
  stored?: number;
  /** Expected total of `bytes`, when known (ETA). */
  total?: number;
  /** Files (streams) in flight now. */
  active?: number;
  filesDone?: number;
  /** Total files, when known (restore). */
  files?: number;
}

/** `files`: count the streams as files (run, serve, snapshot); put's one stream is not worth a word. */
export function fromTransfer(s: TransferSample, files: boolean): ProgressSample {
  return {
    bytes: s.bytesRead,
    stored: s.bytesStored,
    ...(files ? { active: s.streamsOpen, filesDone: s.streamsDone } : {}),
    ...(s.bytesExpected !== undefined ? { total: s.bytesExpected } : {}),
  };
}

/** Bytes per second over the last `windowMs`, from samples taken as time goes (monotonic clock). */
export class RateWindow {
  private readonly points: Array<{ t: number; bytes: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  add(t: number, bytes: number): void {
    this.points.push({ t, bytes });
    while (this.points.length > 2 && t - this.points[1]!.t >= this.windowMs) this.points.shift();
  }

  /** Bytes per second of `bytes` (read, or restored); undefined until two samples at least 0.2 s apart. */
  rate(): number | undefined {
    const first = this.points[0];
    const last = this.points[this.points.length - 1];
    if (!first || !last || last.t - first.t < 200) return undefined;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

export function formatDuration(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

/**
 * Seconds left at `rate` (of `bytes`: reading, which the uploads trail by at most the memory budget), when a total
 * is known and the rate is not zero.
 */
export function etaSeconds(p: ProgressSample, rate: number | undefined): number | undefined {
  if (p.total === undefined || !rate || rate <= 0) return undefined;
  return Math.max(0, (p.total - p.bytes) / rate);
}

/** `uploading: 1.20 GiB read / 1.10 GiB stored of ~2.00 GiB, 45.3 MiB/s, 3 files open, 12 done, ETA 0:42` */
export function formatProgress(verb: string, p: ProgressSample, rate: number | undefined): string {
  const of = p.total !== undefined ? ` of ${p.stored !== undefined ? '~' : ''}${formatBytes(p.total)}` : '';
  const parts = [p.stored !== undefined ? `${formatBytes(p.bytes)} read / ${formatBytes(p.stored)} stored${of}` : `${formatBytes(p.bytes)}${of}`];
  parts.push(rate === undefined ? '- /s' : `${formatBytes(Math.round(rate))}/s`);
  if (p.files !== undefined) parts.push(`${p.filesDone ?? 0}/${p.files} file(s)`);
  else if (p.active !== undefined) parts.push(`${p.active} file${p.active === 1 ? '' : 's'} open, ${p.filesDone ?? 0} done`);
  const eta = etaSeconds(p, rate);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return `${verb}: ${parts.join(', ')}`;
}

const TTY_REDRAW_MS = 250;

/**
 * The progress of one command, from its counters (`sample`): on a terminal (text format) a live line redrawn four
 * times a second; otherwise (a log file, a pipe, --log-format json) a plain `progress` line every
 * --progress-interval seconds through the log, so -q silences it. Nothing with --no-progress or -q.
 */
export class ProgressReporter {
  private readonly rates = new RateWindow();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly started = performance.now();
  private live = false;
  private lastDraw = Number.NEGATIVE_INFINITY; // performance.now() starts at 0 with the process: the first poke always draws

  private constructor(
    private readonly verb: string,
    private readonly sample: () => ProgressSample,
    private readonly log: CliLog,
    private readonly line: StatusLine,
  ) {}

  static start(verb: string, sample: () => ProgressSample, flags: ProgressFlags, log: CliLog, line: StatusLine = stderrLine): ProgressReporter | undefined {
    if (flags.progress === false || flags.quiet) return undefined;
    const r = new ProgressReporter(verb, sample, log, line);
    const live = line.isTerminal && log.format === 'text';
    r.live = live;
    r.timers.push(setInterval(() => r.tick(live), live ? TTY_REDRAW_MS : Math.min(TTY_REDRAW_MS * 4, flags.progressInterval * 1000)));
    if (!live) r.timers.push(setInterval(() => r.report(), flags.progressInterval * 1000));
    for (const t of r.timers) t.unref();
    return r;
  }

  private tick(live: boolean): ProgressSample {
    const p = this.sample();
    const now = performance.now();
    this.rates.add(now, p.bytes);
    if (live) {
      this.line.show(formatProgress(this.verb, p, this.rates.rate()));
      this.lastDraw = now;
    }
    return p;
  }

  /** The counters moved: on a terminal, draw now unless drawn in the last quarter second (short work shows too). */
  poke(): void {
    if (this.live && performance.now() - this.lastDraw >= TTY_REDRAW_MS) this.tick(true);
  }

  /** One plain line (and, in JSON, its numbers). */
  private report(): void {
    const p = this.tick(false);
    const rate = this.rates.rate();
    const eta = etaSeconds(p, rate);
    this.log.event(
      'info',
      'progress',
      {
        ...p,
        elapsedSeconds: Math.round((performance.now() - this.started) / 100) / 10,
        ...(rate !== undefined ? { bytesPerSecond: Math.round(rate) } : {}),
        ...(eta !== undefined ? { etaSeconds: Math.round(eta) } : {}),
      },
      formatProgress(this.verb, p, rate),
    );
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.line.clear();
  }
}

/** Runs `work` (an upload) with a TransferMeter it feeds and a progress line that reads it. */
export async function withUploadProgress<T>(
  flags: ProgressFlags,
  log: CliLog,
  work: (meter: TransferMeter) => Promise<T>,
  { verb = 'uploading', files = true }: { verb?: string; files?: boolean } = {},
): Promise<T> {
  const meter = new TransferMeter();
  const reporter = ProgressReporter.start(verb, () => fromTransfer(meter.sample(), files), flags, log);
  try {
    return await work(meter);
  } finally {
    reporter?.stop();
  }
}

/** Runs `work` (a download, a deep verify) with a progress line of the bytes it reports through `onBytes`. */
export async function withByteProgress<T>(verb: string, flags: ProgressFlags, log: CliLog, work: (onBytes: (n: number) => void) => Promise<T>): Promise<T> {
  let bytes = 0;
  const reporter = ProgressReporter.start(verb, () => ({ bytes }), flags, log);
  try {
    return await work((n) => {
      bytes += n;
      reporter?.poke();
    });
  } finally {
    reporter?.stop();
  }
}
