import os from 'node:os';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { FakeUploader } from '../../fakes/fake-uploader.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

const { errno } = os.constants;

let programs: BuiltPrograms;
let fake: FakeUploader;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'close_returns_eio_when_upload_fails' },
    { name: 'close_waits_for_upload_result' },
    { name: 'close_of_duplicated_fd_does_not_wait' },
    { name: 'dup2_onto_stdout_then_exec' },
    { name: 'fork_child_writes_parent_closes' },
    { name: 'posix_spawn_marks_fds_shared' },
    { name: 'two_threads_two_files' },
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  fake = await FakeUploader.start();
});
afterEach(async () => {
  await fake.close();
});

describe('close and the last-reference rule', () => {
  it('close returns -1 with the uploader errno when the upload fails', async () => {
    fake.behave('fail.bin', { failResult: errno.EIO });
    fake.behave('full.bin', { failResult: errno.ENOSPC });
    for (const [file, code] of [
      ['fail.bin', errno.EIO],
      ['full.bin', errno.ENOSPC],
    ] as const) {
      const r = await run(programs.path('close_returns_eio_when_upload_fails'), [file, String(code)], { env: fake.env() });
      expect(r.code, explain(r)).toBe(0);
      expect(fake.files.has(file)).toBe(false);
    }
  });

  it('close returns EIO when the connection drops before the result', async () => {
    fake.behave('dropped.bin', { dropAtEof: true });
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['dropped.bin', String(errno.EIO)], {
      env: fake.env(),
    });
    expect(r.code, explain(r)).toBe(0);
  });

  it('close of the last reference waits for the upload result', async () => {
    fake.behave('slow', { resultDelayMs: 600 });
    const r = await run(programs.path('close_waits_for_upload_result'), ['500'], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('slow')).toBe('slow\n');
  });

  it('no close waits once the descriptor was duplicated', async () => {
    fake.behave('duplicated', { resultDelayMs: 3000 });
    const r = await run(programs.path('close_of_duplicated_fd_does_not_wait'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('duplicated')).toBe('via the duplicate\n');
  });

  it('open + dup2 onto stdout + close + exec: the exec-ed shell writes the file', async () => {
    const r = await run(programs.path('dup2_onto_stdout_then_exec'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('from-sh.txt')).toBe('written by sh\nsecond line\n');
  });

  it('after fork, the parent closing before the child writes does not deadlock', async () => {
    const r = await run(programs.path('fork_child_writes_parent_closes'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('forked.txt')).toBe('from the child\n');
  });

  it('after posix_spawn, the parent close does not wait for the child', async () => {
    const r = await run(programs.path('posix_spawn_marks_fds_shared'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('spawned.txt')).toBe('from the spawned child\n');
  });

  it('two threads write two files concurrently, both intact', async () => {
    const r = await run(programs.path('two_threads_two_files'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.files.get('thread-1.bin')?.data.equals(pattern(4 << 20, 1))).toBe(true);
    expect(fake.files.get('thread-2.bin')?.data.equals(pattern(4 << 20, 2))).toBe(true);
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });
});
