import { describe, expect, it } from 'vitest';
import { exportLines, preloadEnv } from '../../../src/native/preload-env.js';

const s = { shim: '/opt/d/libdiskless_shim.so', socket: '/tmp/x/ingest.sock', dir: '/backup/out', token: 'f'.repeat(64) };

describe('preloadEnv', () => {
  it('prepends the shim to an existing LD_PRELOAD instead of replacing it', () => {
    expect(preloadEnv({ LD_PRELOAD: '/usr/lib/libeatmydata.so' }, s)['LD_PRELOAD']).toBe('/opt/d/libdiskless_shim.so:/usr/lib/libeatmydata.so');
    expect(preloadEnv({}, s)['LD_PRELOAD']).toBe('/opt/d/libdiskless_shim.so');
  });

  it('does not add the shim twice', () => {
    expect(preloadEnv({ LD_PRELOAD: s.shim }, s)['LD_PRELOAD']).toBe(s.shim);
  });

  it('sets the variables the shim reads and keeps the rest of the environment', () => {
    const env = preloadEnv({ PATH: '/bin' }, s);
    expect(env).toMatchObject({ PATH: '/bin', DISKLESS_SOCKET: s.socket, DISKLESS_DIR: s.dir, DISKLESS_TOKEN: s.token });
  });

  it('prints shell export lines, quoting what needs it', () => {
    expect(exportLines({ ...s, dir: "/my backups/it's" })).toContain(`export DISKLESS_DIR='/my backups/it'\\''s'`);
  });
});
