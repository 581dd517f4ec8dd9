import { UsageError } from '../errors.js';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `90s`, `30m`, `24h`, `7d` or `0` into milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(text);
  if (!m || (m[2] === '' && Number(m[1]) !== 0)) {
    throw new UsageError(`${what}: cannot read "${text}" as a duration; write e.g. 30m, 24h, 7d (or 0)`);
  }
  return Math.round(Number(m[1]) * (UNITS[m[2]!] ?? 0));
}
