import { redactText } from '../util/redact.js';
import type { Logger, LogLevel } from '../util/log.js';
import { stderrLine, type StatusLine } from './status-line.js';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';
export type EventFields = Record<string, unknown>;

/** The library's Logger, plus structured events: in text format the text, in JSON one object per line. */
export interface CliLog extends Logger {
  readonly format: LogFormat;
  /** `text` is what a person reads (text format); `fields` what a script reads (JSON format, beside `message`). */
  event(level: EventLevel, event: string, fields: EventFields, text: string): void;
}

const ORDER: Record<EventLevel | 'quiet', number> = { debug: 0, info: 1, warn: 2, error: 3, quiet: 4 };

/**
 * diskless's stderr. Text: `diskless: message` (`warning: `, `error: ` before warnings and errors). JSON
 * (`--log-format json`): every line one object `{"level","time","event","message",…fields}`, e.g.
 * `{"level":"info","time":"2026-12-02T01:00:00.000Z","event":"message","message":"…"}`. Passwords are
 * redacted in both.
 */
export function cliLogger(level: LogLevel, format: LogFormat, line: StatusLine = stderrLine): CliLog {
  const min = ORDER[level];
  const event = (at: EventLevel, name: string, fields: EventFields, text: string): void => {
    if (ORDER[at] < min && at !== 'error') return;
    if (format === 'json') {
      const record = { level: at, time: new Date().toISOString(), event: name, ...(text ? { message: redactText(text) } : {}), ...fields };
      line.print(JSON.stringify(record) + '\n');
      return;
    }
    const prefix = at === 'warn' ? 'warning: ' : at === 'error' ? 'error: ' : '';
    line.print(`diskless: ${prefix}${redactText(text)}\n`);
  };
  return {
    format,
    event,
    debug: (m) => event('debug', 'message', {}, m),
    info: (m) => event('info', 'message', {}, m),
    warn: (m) => event('warn', 'message', {}, m),
  };
}
