import { describe, expect, it } from 'vitest';
import type { Catalog, CatalogEntry } from '../../../src/catalog/catalog.js';
import type { Manifest } from '../../../src/manifest/manifest.js';
import { planPrune } from '../../../src/ops/prune.js';
import { groupKey } from '../../../src/prune/prune-groups.js';

const H = 3_600_000;
const now = new Date('2026-12-10T12:00:00Z');

function complete(url: string, startedAt: string, host = 'db1', status: CatalogEntry['status'] = 'complete'): CatalogEntry {
  const prefix = url.slice('s3://bkt/'.length);
  const manifest = { kind: 'run', host, startedAt, files: [{ path: 'f', key: `${prefix}f`, size: 1 }] } as unknown as Manifest;
  return { url, kind: 'run', status, startedAt, endedAt: startedAt, files: 1, bytes: 1, command: null, tool: null, host, manifestKey: `${prefix}diskless-manifest.json`, manifest, checks: [], objects: [], lastVerification: null };
}

function incomplete(url: string, newest: Date): CatalogEntry {
  const prefix = url.slice('s3://bkt/'.length);
  return { url, kind: 'unknown', status: 'incomplete', startedAt: newest.toISOString(), endedAt: newest.toISOString(), files: 1, bytes: 1, command: null, tool: null, host: null, checks: [], objects: [`${prefix}a`], lastVerification: null };
}

function catalogOf(entries: CatalogEntry[]): Catalog {
  const keys = entries.flatMap((e) => (e.manifest ? [e.manifestKey!, ...e.manifest.files.map((f) => f.key)] : e.objects));
  return { bucket: 'bkt', entries, listing: new Map(keys.map((key) => [key, { key, size: 1, etag: 'e' }])) };
}

const plan = (entries: CatalogEntry[], openUploadKeys: string[] = [], last = 1) =>
  planPrune(entries, catalogOf(entries), { policy: { last }, groupBy: 'template', now, incompleteAfterMs: 24 * H, openUploadKeys }).map((p) => [p.backup.url, p.backup.action]);

describe('prune plan', () => {
  it('applies the rules per series: another host, directory or name template is its own series, with its own newest kept', () => {
    const entries = [
      complete('s3://bkt/n/2026-12-01/', '2026-12-01T02:00:00Z'),
      complete('s3://bkt/n/2026-12-02/', '2026-12-02T02:00:00Z'),
      complete('s3://bkt/n/2026-12-01-other/', '2026-12-01T03:00:00Z', 'db2'),
      complete('s3://bkt/m/2026-11-01/', '2026-11-01T02:00:00Z'),
    ];
    expect(plan(entries)).toEqual([
      ['s3://bkt/n/2026-12-01/', 'delete'],
      ['s3://bkt/n/2026-12-02/', 'keep'],
      ['s3://bkt/n/2026-12-01-other/', 'keep'],
      ['s3://bkt/m/2026-11-01/', 'keep'],
    ]);
    expect(groupKey(entries[0]!, 'template')).toBe(groupKey(entries[1]!, 'template'));
    expect(groupKey(entries[0]!, 'none')).toBe(groupKey(entries[3]!, 'none'));
  });

  it('never deletes a damaged backup and never counts it: the newest complete one is kept', () => {
    const entries = [complete('s3://bkt/n/2026-12-01/', '2026-12-01T02:00:00Z'), complete('s3://bkt/n/2026-12-02/', '2026-12-02T02:00:00Z', 'db1', 'damaged')];
    expect(plan(entries)).toEqual([
      ['s3://bkt/n/2026-12-01/', 'keep'],
      ['s3://bkt/n/2026-12-02/', 'keep'],
    ]);
  });

  it('deletes an incomplete backup only when its newest object is older than the threshold and no upload is open under it', () => {
    const entries = [
      incomplete('s3://bkt/n/old/', new Date(now.getTime() - 25 * H)),
      incomplete('s3://bkt/n/young/', new Date(now.getTime() - 23 * H)),
      incomplete('s3://bkt/n/writing/', new Date(now.getTime() - 48 * H)),
    ];
    expect(plan(entries, ['n/writing/big.dat'])).toEqual([
      ['s3://bkt/n/old/', 'delete'],
      ['s3://bkt/n/young/', 'keep'],
      ['s3://bkt/n/writing/', 'skip'],
    ]);
  });
});
