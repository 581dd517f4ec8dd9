import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MARKER, projectStateDir } from '../../setup/global-rgw.js';

/** A state dir as rgw-up.sh leaves it: the marker, a ceph.conf naming the gateway's port, the gateway's pid file. */
function stateDir(opts: { marker?: boolean; port?: number; pid?: number } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-rgw-rule-'));
  mkdirSync(join(dir, 'run'));
  if (opts.marker !== false) writeFileSync(join(dir, MARKER), '');
  writeFileSync(join(dir, 'ceph.conf'), `[client.rgw.a]\nrgw_frontends = beast endpoint=127.0.0.1:${opts.port ?? 19001}\n`);
  writeFileSync(join(dir, 'run', 'ceph-client.rgw.a.pid'), `${opts.pid ?? process.pid}\n`);
  return dir;
}

describe('the test setup reuses only an S3 server the project\'s scripts started', () => {
  it('takes a state dir with the marker, a ceph.conf naming the port and a live gateway', () => {
    const dir = stateDir();
    expect(projectStateDir(dir, 19001)).toBe(dir);
  });

  it('refuses one without the marker, for another port, or whose gateway is dead', () => {
    expect(projectStateDir(stateDir({ marker: false }), 19001)).toBeNull();
    expect(projectStateDir(stateDir({ port: 19002 }), 19001)).toBeNull();
    expect(projectStateDir(stateDir({ pid: 2 ** 22 + 1 }), 19001)).toBeNull();
    expect(projectStateDir(join(tmpdir(), 'no-such-dir-diskless'), 19001)).toBeNull();
  });
});
