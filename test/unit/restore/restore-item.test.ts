import { describe, expect, it } from 'vitest';
import { extractArgv, decompressorArgv } from '../../../src/restore/archive-extractor.js';
import { isRestoreTemp, tempNameFor } from '../../../src/restore/file-restorer.js';
import { pathFilter, safeRelativePath } from '../../../src/restore/restore-item.js';
import { tarArgv, compressorArgv } from '../../../src/snapshot/tar-stream.js';

describe('restore paths and selection', () => {
  it('refuses manifest paths that would leave the restore directory', () => {
    for (const bad of ['../etc/passwd', '/etc/passwd', 'a/../../b', 'a//b', './a', 'a/.', '', 'a\0b']) {
      expect(() => safeRelativePath(bad, 'test'), bad).toThrow(/would leave the restore directory/);
    }
    expect(safeRelativePath('db/toc.dat', 'test')).toBe('db/toc.dat');
    expect(safeRelativePath('.hidden/x', 'test')).toBe('.hidden/x');
  });

  it('selects with picomatch globs: includes (any), then excludes (any), dotfiles matched', () => {
    const f = pathFilter(['db/**', '*.sql'], ['**/*.tmp']);
    expect(['db/a.dat', 'db/.x', 'all.sql', 'db/x.tmp', 'other/a.sql'].filter(f)).toEqual(['db/a.dat', 'db/.x', 'all.sql']);
    expect(pathFilter([], [])('anything/at/all')).toBe(true);
  });

  it('writes under a temporary name beside the final one, which a rerun recognises', () => {
    const t = tempNameFor('/r/db/toc.dat');
    expect(t.startsWith('/r/db/.toc.dat.diskless-restore-')).toBe(true);
    expect(isRestoreTemp(t.slice('/r/db/'.length))).toBe(true);
    expect(isRestoreTemp('toc.dat')).toBe(false);
  });
});

describe('snapshot archive extraction', () => {
  it('repeats the metadata flags of the snapshot tar command, dropping --selinux on a host without SELinux', () => {
    const create = tarArgv('/mnt/snap');
    expect(extractArgv(create, '/r', true).argv).toEqual(['tar', '--extract', '--file=-', '--directory=/r', '--xattrs', '--xattrs-include=*', '--acls', '--selinux', '--numeric-owner', '--preserve-permissions']);
    const without = extractArgv(create, '/r', false);
    expect(without.argv).not.toContain('--selinux');
    expect(without.notes).toEqual(['SELinux labels in the archive are not restored: this host has no SELinux']);
  });

  it('decompresses with the tool the snapshot compressed with', () => {
    expect(decompressorArgv(compressorArgv('zstd'))).toEqual(['zstd', '-d', '-q', '-c']);
    expect(decompressorArgv(compressorArgv('gzip'))).toEqual(['gzip', '-d', '-c']);
    expect(decompressorArgv(undefined)).toBeUndefined();
    expect(() => decompressorArgv(['lz4', '-c'])).toThrow(/lz4, which restore does not know/);
  });
});
