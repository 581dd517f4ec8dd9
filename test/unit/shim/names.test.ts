import { mkdirSync } from 'node:fs';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { FakeUploader } from '../../fakes/fake-uploader.js';
import { buildPrograms, explain, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

let programs: BuiltPrograms;
let fake: FakeUploader;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'rename_after_close' },
    { name: 'unlink_virtual_file' },
    { name: 'stat_after_close_shows_regular_file' },
    { name: 'reopen_rdonly_then_fsync' },
    { name: 'fsync_on_virtual_fd_succeeds' },
    { name: 'chmod_chown_utime_of_virtual_file_succeed' },
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  fake = await FakeUploader.start();
});
afterEach(async () => {
  await fake.close();
});

describe('names: rename, unlink, stat, reopen, sync', () => {
  it('rename of a closed virtual file moves the object; crossing the boundary is EXDEV', async () => {
    const local = path.join(fake.root, 'local');
    mkdirSync(local);
    const r = await run(programs.path('rename_after_close'), [local], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('metadata')).toBe('Started dump\nFinished dump\n');
    expect([...fake.files.keys()].sort()).toEqual(['metadata']);
    expect(fake.requests).toContainEqual({ type: 'RENAME', from: 'metadata.partial', to: 'metadata' });
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('unlink, unlinkat and remove delete virtual files; unknown names fall through to the real call', async () => {
    const r = await run(programs.path('unlink_virtual_file'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect([...fake.files.keys()]).toEqual(['keep']);
  });

  it('every stat variant and access show a closed virtual file as a regular file', async () => {
    const r = await run(programs.path('stat_after_close_shows_regular_file'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.files.get('sized')?.size).toBe(12345);
  });

  it('reopening an existing virtual file for fsync neither truncates nor replaces it', async () => {
    const r = await run(programs.path('reopen_rdonly_then_fsync'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('toc.dat')).toBe('table of contents\n');
    expect(fake.requests.filter((q) => q.type === 'OPEN')).toHaveLength(1);
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('fsync, fdatasync and sync_file_range succeed on virtual descriptors, also on a duplicate', async () => {
    const r = await run(programs.path('fsync_on_virtual_fd_succeeds'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('synced')).toBe('data\n');
  });

  it('chmod, chown and utime of a virtual file succeed and change nothing; unknown names stay ENOENT', async () => {
    const r = await run(programs.path('chmod_chown_utime_of_virtual_file_succeed'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('backup_label')).toBe('label\n');
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });
});
