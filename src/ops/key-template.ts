import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { UsageError } from '../errors.js';

/** The placeholders `put` and `run`/`serve` expand in their target URL. */
export const URL_PLACEHOLDERS = ['host', 'date', 'time', 'run'] as const;

/**
 * Expands `{host}` (short host name), `{date}` (YYYY-MM-DD, UTC), `{time}` (HHMMSS, UTC) and
 * `{run}` (date, time and a random suffix: unique per run) in a target URL, so a fresh key or
 * prefix per backup is the easy path (`s3://b/db/{date}/`). Any other `{name}` is refused.
 */
export function expandUrlTemplate(url: string, now: Date = new Date(), host: string = hostname().split('.')[0]!): string {
  const iso = now.toISOString();
  const date = iso.slice(0, 10);
  const time = iso.slice(11, 19).replace(/:/g, '');
  const values: Record<(typeof URL_PLACEHOLDERS)[number], string> = {
    host,
    date,
    time,
    run: `${date.replace(/-/g, '')}T${time}Z-${randomBytes(3).toString('hex')}`,
  };
  return url.replace(/\{([A-Za-z_]+)\}/g, (_, name: string) => {
    if (!(name in values)) {
      throw new UsageError(`"{${name}}" in ${url} is not a placeholder; use ${URL_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
    }
    return values[name as keyof typeof values];
  });
}
