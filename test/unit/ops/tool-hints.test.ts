import { describe, expect, it } from 'vitest';
import { failureHints } from '../../../src/ops/tool-hints.js';

describe('failureHints', () => {
  it('tells pg_basebackup users in tar format to fetch the WAL instead of streaming it', () => {
    const [hint] = failureHints(['pg_basebackup', '-Ft', '-D', '/tmp/out/base']);
    expect(hint).toMatch(/-X stream, the default.*use -X fetch .* or -X none/);
    expect(failureHints(['/usr/lib/postgresql/15/bin/pg_basebackup', '-Ft', '-X', 'stream', '-D', 'x'])).toHaveLength(1);
  });

  it('looks inside a shell wrapper', () => {
    expect(failureHints(['sh', '-c', 'pg_basebackup -Ft -D /tmp/out/base'])).toHaveLength(1);
  });

  it('has nothing to say when the WAL is fetched or left out, or for other tools', () => {
    expect(failureHints(['pg_basebackup', '-Ft', '-X', 'fetch', '-D', 'x'])).toEqual([]);
    expect(failureHints(['pg_basebackup', '-Ft', '--wal-method=none', '-D', 'x'])).toEqual([]);
    expect(failureHints(['pg_basebackup', '-Ft', '-Xf', '-D', 'x'])).toEqual([]);
    expect(failureHints(['tar', '-cf', 'x'])).toEqual([]);
  });
});
