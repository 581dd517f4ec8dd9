import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ShimHarness } from '../../support/shim-harness.js';
import { buildPrograms, explain, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

// rename, unlink, stat, reopen and sync of virtual files, against the real uploader
// (IngestServer + VirtualFiles over the in-memory store).

let programs: BuiltPrograms;
let up: ShimHarness;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'rename_after_close' },
    { name: 'unlink_virtual_file' },
    { name: 'stat_after_close_shows_regular_file' },
    { name: 'reopen_rdonly_then_fsync' },
    { name: 'rdonly_creat_makes_an_empty_file' },
    { name: 'fsync_on_virtual_fd_succeeds' },
    { name: 'chmod_chown_utime_of_virtual_file_succeed' },
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

describe('names: rename, unlink, stat, reopen, sync', () => {
  it('a process sends its requests over one connection of its own: 60 stats and 30 files end with one socket left, and a fork child gets its own', async () => {
    // Each file is still a connection of its own while it is written; its END, like every stat, goes over the process's
    // request connection (wire.def), so what is left once the files are closed is that one connection.
    const v = up.vdir;
    const sockets = (pid: string) => `ls -l /proc/${pid}/fd | grep -c socket:`;
    const script = [
      // Before any request: the sockets the shell started with (its stdout and stderr are socket pairs).
      sockets('$$'),
      `for i in $(seq 30); do echo "file $i" > ${v}/f$i; test -e ${v}/none$i && exit 9; test -e ${v}/f$i || exit 8; done`,
      sockets('$$'),
      // A subshell (a fork child) stats over a connection of its own; its copy of the parent's was closed at the fork.
      `( test -e ${v}/f1 && p=$BASHPID && ${sockets('$p')} )`,
    ].join('; ');
    const r = await run('/bin/bash', ['-c', script], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    const [before, after, child] = r.stdout.toString().trim().split('\n').map(Number);
    expect([after! - before!, child! - before!]).toEqual([1, 1]);
    expect(up.storedPaths()).toHaveLength(30);
  });

  it('rename of a closed virtual file moves the object; crossing the boundary is EXDEV', async () => {
    const local = path.join(up.root, 'local');
    mkdirSync(local);
    const r = await run(programs.path('rename_after_close'), [local], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('metadata')).toBe('Started dump\nFinished dump\n');
    expect(up.storedPaths()).toEqual(['metadata']);
    expect(up.records().map((f) => f.path)).toEqual(['metadata']);
    expect(up.calls).toContainEqual({ type: 'RENAME', from: 'metadata.partial', to: 'metadata' });
    expect(up.callsOf('RENAME_DIR')).toEqual([{ type: 'RENAME_DIR', from: 'dir1', to: 'dir2' }]);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('unlink, unlinkat and remove delete virtual files; unknown names fall through to the real call', async () => {
    const r = await run(programs.path('unlink_virtual_file'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.storedPaths()).toEqual(['keep']);
    expect(up.records().map((f) => f.path)).toEqual(['keep']);
  });

  it('every stat variant and access show a closed virtual file as a regular file', async () => {
    const r = await run(programs.path('stat_after_close_shows_regular_file'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.object('sized')?.length).toBe(12345);
  });

  it('reopening an existing virtual file for fsync neither truncates nor replaces it; read-only (open, fopen "r") it reads the stored bytes back', async () => {
    const r = await run(programs.path('reopen_rdonly_then_fsync'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('toc.dat')).toBe('table of contents\n');
    expect(up.callsOf('OPEN')).toHaveLength(1);
    expect(up.store.calls.put).toBe(1);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('open O_RDONLY|O_CREAT of a new name stores an empty file; of an existing one keeps it, and with O_EXCL is EEXIST', async () => {
    const r = await run(programs.path('rdonly_creat_makes_an_empty_file'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.object('made')?.length).toBe(0);
    expect(up.text('kept')).toBe('kept\n');
    expect(up.callsOf('OPEN').map((c) => c.path)).toEqual(['made', 'kept']);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('fsync, fdatasync and sync_file_range succeed on virtual descriptors, also on a duplicate', async () => {
    const r = await run(programs.path('fsync_on_virtual_fd_succeeds'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('synced')).toBe('data\n');
  });

  it('chmod, chown and utime of a virtual file succeed and change nothing; unknown names stay ENOENT', async () => {
    const r = await run(programs.path('chmod_chown_utime_of_virtual_file_succeed'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('backup_label')).toBe('label\n');
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });
});
