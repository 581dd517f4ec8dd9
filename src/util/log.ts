import { redactText } from './redact.js';

/** The library logs through this; the CLI decides where it goes. Silent by default. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {} };

export type LogLevel = 'debug' | 'info' | 'warn' | 'quiet';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, quiet: 3 };

/** Lines on a stream (stderr for the CLI), prefixed `diskless:`, below `level` dropped, passwords redacted. */
export function streamLogger(out: NodeJS.WritableStream, level: LogLevel): Logger {
  const emit = (at: LogLevel, prefix: string) => (message: string) => {
    if (ORDER[at] >= ORDER[level]) out.write(`diskless: ${prefix}${redactText(message)}\n`);
  };
  return { debug: emit('debug', ''), info: emit('info', ''), warn: emit('warn', 'warning: ') };
}
