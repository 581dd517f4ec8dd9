import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { checkKeyTemplate, keyTimestamp, parseSnapshotSize, pathSlug, renderKey, snapshotBytes } from '../../../src/snapshot/volume-plan.js';

describe('volume plans', () => {
  it('reads --snapshot-size as a size or as a percentage of the origin', () => {
    expect(parseSnapshotSize('512MiB')).toEqual({ bytes: 512 * 1024 * 1024 });
    expect(parseSnapshotSize('20%ORIGIN')).toEqual({ percentOfOrigin: 20 });
    expect(parseSnapshotSize('2.5%origin')).toEqual({ percentOfOrigin: 2.5 });
    expect(() => parseSnapshotSize('20%')).toThrow(UsageError);
    expect(() => parseSnapshotSize('0%ORIGIN')).toThrow(/above 0/);
    expect(() => parseSnapshotSize('150%ORIGIN')).toThrow(/at most 100/);
  });

  it('rounds the copy-on-write space up to whole extents', () => {
    const extent = 4 * 1024 * 1024;
    expect(snapshotBytes({ percentOfOrigin: 10 }, 320 * 1024 * 1024, extent)).toBe(32 * 1024 * 1024);
    expect(snapshotBytes({ percentOfOrigin: 1 }, 320 * 1024 * 1024, extent)).toBe(extent);
    expect(snapshotBytes({ bytes: 5 * 1024 * 1024 }, 0, extent)).toBe(2 * extent);
  });

  it('fills the key template and adds the archive extension', () => {
    const vars = { host: 'db1', name: 'vg0-data', vg: 'vg0', lv: 'data', timestamp: '20261121T101502Z', method: 'lvm' as const };
    expect(renderKey('backups/', '{host}/{name}-{timestamp}{ext}', vars)).toBe('backups/db1/vg0-data-20261121T101502Z.tar');
    expect(renderKey('', '{vg}/{lv}{ext}', { ...vars, compress: 'zstd' })).toBe('vg0/data.tar.zst');
    expect(renderKey('p/', '{method}/{name}{ext}', { ...vars, compress: 'gzip' })).toBe('p/lvm/vg0-data.tar.gz');
  });

  it('refuses unknown template variables and absolute keys', () => {
    expect(() => checkKeyTemplate('{host}/{volume}.tar')).toThrow(/unknown variable \{volume\}/);
    expect(() => checkKeyTemplate('/abs/{name}')).toThrow(/must not start with \//);
    expect(() => checkKeyTemplate('{host}/{name}{ext}')).not.toThrow();
  });

  it('makes sortable timestamps and key-safe names from paths', () => {
    expect(keyTimestamp(new Date('2026-11-21T10:15:02.123Z'))).toBe('20261121T101502Z');
    expect(pathSlug('/')).toBe('root');
    expect(pathSlug('/srv/my data/')).toBe('srv-my-data');
  });
});
