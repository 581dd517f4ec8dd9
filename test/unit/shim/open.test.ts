import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { shimPath } from '../../../src/native/shim-path.js';
import { WIRE_ENV_TOKEN } from '../../../src/wire/wire.generated.js';
import { ShimHarness, withoutDisklessEnv } from '../../support/shim-harness.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

// The open family against the real uploader (IngestServer + VirtualFiles over the in-memory store).

const { EACCES } = constants.errno;
// Linux open(2) flag values (x86_64 and aarch64 share them).
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;

let programs: BuiltPrograms;
let up: ShimHarness;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'open_creates_virtual_file' },
    { name: 'openat_relative_to_dirfd' },
    { name: 'creat_and_write' },
    { name: 'fortified_open_is_intercepted', cflags: ['-O2', '-D_FORTIFY_SOURCE=2'] },
    { name: 'open64_and_openat64', cflags: ['-O1', '-D_FILE_OFFSET_BITS=64'] },
    { name: 'o_append_to_existing_is_refused' },
    { name: 'o_tmpfile_is_refused' },
    { name: 'path_outside_vdir_untouched' },
    { name: 'no_env_means_passthrough' },
    { name: 'hooks_work_inside_library_constructor' },
    { name: 'rdwr_random_access_file' },
    { name: 'links_are_refused' },
    { name: 'open_of_a_file_still_being_written_is_ebusy' },
    { name: 'open_and_fopen_fail_with_errno' },
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

async function runShim(name: string, args: string[] = []) {
  const r = await run(programs.path(name), args, { env: up.env() });
  expect(r.code, explain(r)).toBe(0);
  await up.settled();
  return r;
}

describe('open family', () => {
  it('open with O_CREAT streams the bytes to the uploader and leaves no local file', async () => {
    await runShim('open_creates_virtual_file');
    expect(up.text('a.txt')).toBe('hello, diskless\n');
    expect(up.text('b.txt')).toBe('b');
    expect(up.object('empty')?.length).toBe(0);
    expect(up.callsOf('OPEN').find((c) => c.path === 'a.txt')?.flags).toBe(O_WRONLY | O_CREAT | O_TRUNC);
    expect((up.callsOf('OPEN').find((c) => c.path === 'b.txt')?.flags ?? 0) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(up.records().map((f) => [f.path, f.state, f.bytes])).toEqual([
      ['a.txt', 'committed', 16],
      ['b.txt', 'committed', 1],
      ['empty', 'committed', 0],
    ]);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('openat resolves relative paths against the dirfd and open against the cwd, collapsing . and ..', async () => {
    await runShim('openat_relative_to_dirfd');
    expect(up.text('sub/b.txt')).toBe('via dirfd\n');
    expect(up.text('sub/c.txt')).toBe('via cwd\n');
    expect(up.text('d.txt')).toBe('up one\n');
    expect(up.text('e.txt')).toBe('absolute\n');
    expect(existsSync(path.join(up.vdir, 'sub'))).toBe(true);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('a virtual directory named through a symlink also matches its resolved path (getcwd, dirfd)', async () => {
    const link = path.join(up.root, 'link-to-vdir');
    symlinkSync(up.vdir, link);
    const r = await run(programs.path('openat_relative_to_dirfd'), [], { env: up.env({ dir: link }) });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('sub/b.txt')).toBe('via dirfd\n');
    expect(up.text('sub/c.txt')).toBe('via cwd\n');
    expect(up.text('d.txt')).toBe('up one\n');
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('creat delivers a megabyte written in pieces intact', async () => {
    await runShim('creat_and_write');
    expect(up.object('big.bin')?.equals(pattern(1 << 20, 1))).toBe(true);
  });

  it('fortified builds calling __open_2 and __openat_2 are intercepted', async () => {
    const { stdout } = await run('nm', ['-D', '--undefined-only', programs.path('fortified_open_is_intercepted')], {
      env: process.env,
    });
    expect(stdout).toMatch(/\b__open_2\b/);
    expect(stdout).toMatch(/\b__openat_2\b/);
    await runShim('fortified_open_is_intercepted');
    expect(up.text('fortified')).toBe('fortified\n');
    expect(up.callsOf('OPEN')).toHaveLength(1);
  });

  it('programs built with _FILE_OFFSET_BITS=64 reach the shim through the *64 names', async () => {
    const { stdout } = await run('nm', ['-D', '--undefined-only', programs.path('open64_and_openat64')], { env: process.env });
    for (const name of ['open64', 'openat64', 'creat64', 'fopen64', 'freopen64', 'stat64']) expect(stdout).toContain(name);
    await runShim('open64_and_openat64');
    expect(up.text('o64')).toBe('open64');
    expect(up.text('oat64')).toBe('openat64');
    expect(up.text('c64')).toBe('creat64');
    expect(up.text('f64')).toBe('fopen64');
    expect(up.text('fr64')).toBe('freopen64');
  });

  it('appending to an existing virtual file is refused with the uploader errno, and O_EXCL sees it', async () => {
    await runShim('o_append_to_existing_is_refused');
    expect(up.text('log.txt')).toBe('first\n');
    expect(up.text('blobs.toc')).toBe('blob 1\n');
    const flags = up.callsOf('OPEN').flatMap((c) => (c.path === 'log.txt' ? [c.flags] : []));
    expect(flags).toContain(O_WRONLY | O_CREAT | O_APPEND);
    expect(flags).toContain(O_WRONLY | O_CREAT | O_EXCL);
  });

  it('a second open of a file still being written is EBUSY, O_EXCL of it EEXIST; after its close the name is written anew', async () => {
    await runShim('open_of_a_file_still_being_written_is_ebusy');
    expect(up.text('busy')).toBe('second\n');
    expect(up.records().map((f) => [f.path, f.state])).toEqual([['busy', 'committed']]);
    expect(up.callsOf('OPEN').map((c) => c.path)).toEqual(Array(5).fill('busy'));
  });

  it('an open with another token than the run\'s is refused by the uploader with EACCES, and nothing is stored', async () => {
    const env = up.env({ vars: { [WIRE_ENV_TOKEN]: 'f'.repeat(64) } });
    const r = await run(programs.path('open_and_fopen_fail_with_errno'), ['intruder', String(EACCES)], { env });
    expect(r.code, explain(r)).toBe(0);
    expect(up.server.refused).toBe(2);
    expect(up.calls).toEqual([]);
    expect(up.storedPaths()).toEqual([]);
  });

  it('O_RDWR creates a random-access file (seek, read back, pwrite, ftruncate) whose final bytes close sends; mkstemp under the directory makes one', async () => {
    const r = await run(programs.path('rdwr_random_access_file'), [], { env: up.env({ randomAccessLimit: 64 * 1024 }) });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(up.text('db')).toBe('HELLO world');
    expect(up.text('temp.txt')).toBe('temp');
    expect(up.callsOf('FAIL').map((c) => c.path)).toEqual(['shared']);
    // One failure, the refusal: the upload the shim then gave up is not a second one (a "dead writer").
    expect(up.failures.map((f) => [f.path, String(f.error)])).toEqual([['shared', expect.stringMatching(/closed while another descriptor/)]]);
    expect(up.storedPaths()).toEqual(['db', 'temp.txt']);
    expect(r.stderr).toMatch(/--random-access-limit/);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('symlink and link into the virtual directory are refused with EPERM and reported to the uploader', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'diskless-links-'));
    try {
      await runShim('links_are_refused', [local]);
      expect(up.callsOf('FAIL').map((c) => c.path)).toEqual(['link', 'link2', 'hard']);
      expect(up.failures.map((f) => f.path)).toEqual(['link', 'link2', 'hard']);
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('O_TMPFILE in the virtual directory is refused with EOPNOTSUPP', async () => {
    await runShim('o_tmpfile_is_refused');
    expect(up.untouched).toBe(true);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('paths outside the virtual directory, including a name-prefix sibling and a .. escape, stay local', async () => {
    const local = path.join(up.root, 'local');
    mkdirSync(local);
    await runShim('path_outside_vdir_untouched', [local]);
    expect(up.untouched).toBe(true);
    expect(readFileSync(`${up.vdir}-sibling/file`, 'utf8')).toBe('local\n');
    expect(readFileSync(path.join(up.root, 'escaped.txt'), 'utf8')).toBe('local\n');
  });

  it('with the shim preloaded but no diskless environment, everything passes through', async () => {
    const local = path.join(up.root, 'local');
    mkdirSync(local);
    const env = { ...withoutDisklessEnv(process.env), LD_PRELOAD: shimPath() };
    const r = await run(programs.path('no_env_means_passthrough'), [local], { env });
    expect(r.code, explain(r)).toBe(0);
    expect(readFileSync(path.join(local, 'renamed.txt'), 'utf8')).toBe('plain\nmore\n');
    expect(up.untouched).toBe(true);
  });

  it('hooks work inside constructors, including a library initialised before the shim', async () => {
    await runShim('hooks_work_inside_library_constructor');
    expect(up.text('from-library-ctor')).toBe('library constructor\n');
    expect(up.text('from-program-ctor')).toBe('program constructor\n');
  });
});
