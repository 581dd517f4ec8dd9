import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCatalog, selectEntries } from '../../../src/catalog/catalog.js';
import { verifyRecordKey } from '../../../src/catalog/record-keys.js';
import { crc32c, crc32cToHex } from '../../../src/checksum/crc32c.js';
import { buildManifest, type BackupKind } from '../../../src/manifest/manifest.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/upload/retry.js';
import { silentLogger } from '../../../src/util/log.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';

const store = new MemoryObjectStore();
const ctx = { store, retry: { ...DEFAULT_RETRY_POLICY, retryForMs: 0 }, log: silentLogger };

function obj(key: string, data: string | Buffer): { key: string; size: number; etag: string; crc: string } {
  const b = Buffer.from(data);
  const etag = createHash('md5').update(b).digest('hex');
  store.objects.set(`bkt/${key}`, { data: b, etag, metadata: {} });
  return { key, size: b.length, etag, crc: crc32cToHex(crc32c(b)) };
}

function backup(kind: BackupKind, prefix: string, manifestKey: string, files: Record<string, string>, startedAt: string): void {
  const stored = Object.entries(files).map(([path, data]) => ({ path, ...obj(kind === 'put' ? prefix : prefix + path, data) }));
  const m = buildManifest({
    kind, command: ['x'], exitStatus: 0, startedAt: new Date(startedAt), bucket: 'bkt', prefix,
    files: stored.map((s) => ({ path: s.path, key: s.key, size: s.size, crc32c: s.crc, end: 'closed', objects: [{ bucket: 'bkt', key: s.key, size: s.size, etag: s.etag, parts: 1, partSizes: [s.size], crc32c: s.crc, writer: 'test' }] })),
  });
  obj(manifestKey, JSON.stringify(m));
}

backup('run', 'n/2026-12-01/', 'n/2026-12-01/diskless-manifest.json', { 'a.tar': 'aaa', 'db/toc.dat': 'toc' }, '2026-12-01T01:00:00Z');
obj('n/2026-12-01/stray.txt', 'not in the manifest');
backup('run', 'n/2026-12-02/', 'n/2026-12-02/diskless-manifest.json', { 'a.tar': 'bbb' }, '2026-12-02T01:00:00Z');
store.objects.delete('bkt/n/2026-12-02/a.tar');
obj('n/2026-12-03/a.tar', 'ccc');
obj('n/2026-12-03/db/toc.dat', 'ddd');
backup('put', 'p/db.dump', 'p/db.dump.diskless.json', { 'db.dump': 'dump' }, '2026-12-01T02:00:00Z');
backup('snapshot', 's/', 's/h/diskless-manifest-20261201T030000Z.json', { 'h/srv.tar': 'tar' }, '2026-12-01T03:00:00Z');
obj(verifyRecordKey('n/2026-12-01/diskless-manifest.json', new Date('2026-12-01T05:00:00Z'), false, true), '{}');
obj(verifyRecordKey('n/2026-12-01/diskless-manifest.json', new Date('2026-12-01T06:00:00Z'), true, false), '{}');

describe('the catalogue of backups', () => {
  it('tells complete, damaged and incomplete backups apart from one listing and one GET per manifest', async () => {
    store.calls.get = 0;
    store.calls.head = 0;
    const c = await buildCatalog(ctx, 'bkt', '');
    expect(store.calls.list).toBeGreaterThan(0);
    expect(store.calls.get).toBe(4);
    expect(store.calls.head).toBe(0);
    const by = Object.fromEntries(c.entries.map((e) => [e.url, e]));
    expect(Object.keys(by).sort()).toEqual(
      ['s3://bkt/n/2026-12-01/', 's3://bkt/n/2026-12-02/', 's3://bkt/n/2026-12-03/', 's3://bkt/p/db.dump', 's3://bkt/s/h/diskless-manifest-20261201T030000Z.json'].sort(),
    );
    expect(by['s3://bkt/n/2026-12-01/']).toMatchObject({ kind: 'run', status: 'complete', files: 2, objects: ['n/2026-12-01/stray.txt'] });
    expect(by['s3://bkt/n/2026-12-01/']!.lastVerification).toMatchObject({ at: '2026-12-01T06:00:00.000Z', deep: true, result: 'failed' });
    expect(by['s3://bkt/n/2026-12-02/']).toMatchObject({ status: 'damaged' });
    expect(by['s3://bkt/n/2026-12-02/']!.checks[0]).toMatchObject({ path: 'a.tar', status: 'missing' });
    expect(by['s3://bkt/n/2026-12-03/']).toMatchObject({ kind: 'unknown', status: 'incomplete', files: 2, bytes: 6 });
    expect(by['s3://bkt/p/db.dump']).toMatchObject({ kind: 'put', status: 'complete', files: 1 });
    expect(by['s3://bkt/s/h/diskless-manifest-20261201T030000Z.json']).toMatchObject({ kind: 'snapshot', status: 'complete' });
  });

  it('selects one backup by its URL, or every backup under a parent prefix', async () => {
    const c = await buildCatalog(ctx, 'bkt', '');
    expect(selectEntries(c.entries, 's3://bkt/n/2026-12-01').map((e) => e.url)).toEqual(['s3://bkt/n/2026-12-01/']);
    expect(selectEntries(c.entries, 's3://bkt/n/').map((e) => e.url)).toHaveLength(3);
    expect(selectEntries(c.entries, 's3://bkt/p/db.dump').map((e) => e.kind)).toEqual(['put']);
  });
});
