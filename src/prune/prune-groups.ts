import type { CatalogEntry } from '../catalog/catalog.js';

export type GroupBy = 'template' | 'none';

/**
 * What a backup backs up, for retention: backups of one group are one series, and the keep
 * rules apply to each series alone. `template` (the default): the same kind, the same host, the
 * same parent directory, and the same last name once every run of digits is replaced by `#`
 * (`nightly/2026-12-01/` and `nightly/2026-12-02/` are one series, `db/shop-20261201.sql.gz` and
 * `db/crm-20261201.sql.gz` two, a snapshot's `hosts/web1/diskless-manifest-….json` one per host
 * directory). `none`: every backup under the prefix is one series.
 */
export function groupKey(entry: CatalogEntry, by: GroupBy): string {
  if (by === 'none') return 'all';
  const url = entry.url.replace(/\/$/, '');
  const cut = url.lastIndexOf('/');
  const parent = url.slice(0, cut + 1);
  const name = url.slice(cut + 1).replace(/\d+/g, '#');
  return `${entry.kind} ${entry.host ?? '-'} ${parent}${name}${entry.url.endsWith('/') ? '/' : ''}`;
}
