import { describeError } from '../errors.js';
import { cliLogger, LOG_FORMATS, type CliLog, type EventFields, type LogFormat } from './cli-log.js';
import { commandOf } from './global-options.js';
import { writeMetricsFile } from './metrics-file.js';

/** What a command's final summary says, for scripts (JSON) and the metrics file. */
export interface SummaryFields extends EventFields {
  /** The backup (or object) the command stored or read. */
  url?: string;
  bytes?: number;
  objects?: number;
  /** Checksums of what was stored: CRC32C, SHA-256, ETag; per file for run/serve/snapshot. */
  checksums?: Record<string, unknown>;
}

export interface ReportSettings {
  format: LogFormat;
  metricsFile?: string;
  quiet?: boolean;
}

/**
 * The end of one CLI invocation: its summary (text: the command's own line; JSON: one `summary` object with the
 * exit status, written last) and the metrics file (`--metrics-file`), on success and on failure alike.
 */
export class RunReport {
  private settings: ReportSettings = { format: 'text' };
  private command = 'diskless';
  private readonly startedAt = Date.now();
  private fields: SummaryFields = {};
  private message = '';

  constructor(argv: readonly string[] = []) {
    this.settings = settingsFromArgv(argv);
    // Until commander names it (a parse error comes first): the first word that is not an option
    // nor a global option's value.
    this.command = commandOf(argv) ?? 'diskless';
  }

  configure(command: string, settings: ReportSettings): void {
    this.command = command;
    this.settings = settings;
  }

  get format(): LogFormat {
    return this.settings.format;
  }

  /** The command's result. Text format: `text` is printed now; JSON: it goes into the final summary. */
  summary(log: CliLog, text: string, fields: SummaryFields): void {
    this.fields = { ...this.fields, ...fields };
    this.message = text;
    if (log.format === 'text' && text !== '') log.info(text);
  }

  /** Called once, by main, with the exit status (and the error of a failed run, already described). */
  finish(exitStatus: number, error?: { message: string; hints: readonly string[] }): void {
    const log = cliLogger(this.settings.quiet ? 'warn' : 'info', this.settings.format);
    if (error) log.event('error', 'error', error.hints.length > 0 ? { hints: error.hints } : {}, error.message);
    if (error && this.settings.format === 'text') for (const h of error.hints) process.stderr.write(`diskless: hint: ${h}\n`);
    const durationSeconds = (Date.now() - this.startedAt) / 1000;
    if (this.settings.format === 'json') {
      const status = exitStatus === 0 ? 'ok' : 'failed';
      log.event(exitStatus === 0 ? 'info' : 'error', 'summary', { command: this.command, status, exitStatus, durationSeconds, ...this.fields }, error ? error.message : this.message);
    }
    if (this.settings.metricsFile) {
      try {
        writeMetricsFile(this.settings.metricsFile, {
          command: this.command,
          exitStatus,
          bytes: this.fields.bytes ?? 0,
          objects: this.fields.objects ?? 0,
          durationSeconds,
          endTime: new Date(),
        });
      } catch (err) {
        log.warn(`could not write --metrics-file ${this.settings.metricsFile}: ${describeError(err)}`);
      }
    }
  }
}

/**
 * The global options as far as they can be read before commander parsed them (an unknown option fails the parse,
 * and its error must still come out in the chosen format): `--log-format F`, `--log-format=F`, `--metrics-file P`.
 */
function settingsFromArgv(argv: readonly string[]): ReportSettings {
  const settings: ReportSettings = { format: 'text' };
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const [name, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[i + 1];
    if (name === '--log-format' && (LOG_FORMATS as readonly string[]).includes(value ?? '')) settings.format = value as LogFormat;
    if (name === '--metrics-file' && value) settings.metricsFile = value;
    if (name === '-q' || name === '--quiet') settings.quiet = true;
  }
  return settings;
}
