import os from 'node:os';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { planParts } from '../../../src/upload/part-planner.js';
import { MiB } from '../../../src/util/size.js';
import { FakeS3Error } from '../../fakes/memory-object-store.js';
import { ShimHarness } from '../../support/shim-harness.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

// The shim's close() against the real uploader (IngestServer + VirtualFiles over the in-memory store).

const { errno } = os.constants;

let programs: BuiltPrograms;
let up: ShimHarness;

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
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

const denied = () => new FakeS3Error('AccessDenied', 403, 'Access Denied');

describe('close and the last-reference rule', () => {
  it('close returns -1 with EIO when the store refuses the object (PutObject), and nothing is stored', async () => {
    up.store.failNext('put', denied());
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['fail.bin', String(errno.EIO)], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.storedPaths()).toEqual([]);
    expect(up.failures.map((f) => f.path)).toEqual(['fail.bin']);
    expect(up.records()).toEqual([]);
  });

  it('close returns -1 with EIO when a part upload of a multipart file fails', async () => {
    up.store.failNext('uploadPart', denied());
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['parts.bin', String(errno.EIO), String(12 * MiB)], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.storedPaths()).toEqual([]);
    expect(up.failures.map((f) => f.path)).toEqual(['parts.bin']);
  });

  it('close returns -1 with EIO when CompleteMultipartUpload fails, and the upload is aborted', async () => {
    up.store.failNext('complete', denied());
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['complete.bin', String(errno.EIO), String(6 * MiB)], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.store.calls.complete).toBe(1);
    expect(up.storedPaths()).toEqual([]);
    expect(up.store.uploads.size).toBe(0);
  });

  it('close returns -1 with EFBIG when the file outgrows the one object --no-split allows', async () => {
    await up.close();
    up = await ShimHarness.start({ plan: planParts({ partSize: 5 * MiB, maxParts: 1, split: false }) });
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['big.bin', String(errno.EFBIG), String(6 * MiB)], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.storedPaths()).toEqual([]);
  });

  it('close of the last reference waits for the upload result', async () => {
    up.store.delayMs.put = 600;
    const r = await run(programs.path('close_waits_for_upload_result'), ['500'], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('slow')).toBe('slow\n');
  });

  it('the close of the last reference sends no END (its shutdown of the connection is the clean end); each close of a duplicated descriptor sends one', async () => {
    const last = await run(programs.path('close_waits_for_upload_result'), ['0'], { env: up.env() });
    expect(last.code, explain(last)).toBe(0);
    expect(up.callsOf('END')).toEqual([]);
    expect(up.records().map((f) => [f.path, f.state, f.ended])).toEqual([['slow', 'committed', 'close']]);
    const dup = await run(programs.path('close_of_duplicated_fd_does_not_wait'), [], { env: up.env() });
    expect(dup.code, explain(dup)).toBe(0);
    await up.settled();
    expect(up.callsOf('END')).toEqual([{ type: 'END', how: 1 }, { type: 'END', how: 1 }]);
    expect(up.text('duplicated')).toBe('via the duplicate\n');
  });

  it('no close waits once the descriptor was duplicated', async () => {
    up.store.delayMs.put = 3000;
    const r = await run(programs.path('close_of_duplicated_fd_does_not_wait'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('duplicated')).toBe('via the duplicate\n');
  });

  it('open + dup2 onto stdout + close + exec: the exec-ed shell writes the file, which ends cleanly at its exit', async () => {
    const r = await run(programs.path('dup2_onto_stdout_then_exec'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('from-sh.txt')).toBe('written by sh\nsecond line\n');
    expect(up.failures).toEqual([]);
    // The manifest's `end` of the file: the shell held it last and exited with it open.
    expect(up.records().map((f) => [f.path, f.state, f.ended])).toEqual([['from-sh.txt', 'committed', 'exit']]);
  });

  it('after fork, the parent closing before the child writes does not deadlock', async () => {
    const r = await run(programs.path('fork_child_writes_parent_closes'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('forked.txt')).toBe('from the child\n');
    expect(up.records().map((f) => [f.path, f.state, f.ended])).toEqual([['forked.txt', 'committed', 'close']]);
    expect(up.failures).toEqual([]);
  });

  it('after posix_spawn, the parent close does not wait for the child', async () => {
    const r = await run(programs.path('posix_spawn_marks_fds_shared'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('spawned.txt')).toBe('from the spawned child\n');
    expect(up.failures).toEqual([]);
  });

  it('two threads write two files concurrently, both intact', async () => {
    const r = await run(programs.path('two_threads_two_files'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.object('thread-1.bin')?.equals(pattern(4 << 20, 1))).toBe(true);
    expect(up.object('thread-2.bin')?.equals(pattern(4 << 20, 2))).toBe(true);
    expect(up.records().map((f) => f.path)).toEqual(['thread-1.bin', 'thread-2.bin']);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });
});
