import { UsageError } from '../errors.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

const UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: KiB, kb: 1000, kib: KiB,
  m: MiB, mb: 1000 ** 2, mib: MiB,
  g: GiB, gb: 1000 ** 3, gib: GiB,
  t: TiB, tb: 1000 ** 4, tib: TiB,
};

/**
 * Parses a byte size as users write it: `8MiB`, `5M` (binary), `100MB` (decimal), `1.5GiB`, `4096`.
 * `what` names the option in the error message.
 */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`${what}: cannot read "${text}" as a size; write e.g. 8MiB, 64M, 1.5GiB or 1000000`);
  }
  const value = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what}: ${text} is too large`);
  return value;
}

/** Human-readable binary size: `8.0 MiB`, `1.20 GiB`, `512 B`. */
export function formatBytes(n: number): string {
  if (n < KiB) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / KiB;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}
