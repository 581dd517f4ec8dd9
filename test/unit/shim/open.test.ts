import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { FakeUploader, withoutDisklessEnv } from '../../fakes/fake-uploader.js';
import { shimPath } from '../../../src/native/shim-path.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

// Linux open(2) flag values (x86_64 and aarch64 share them).
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_CLOEXEC = 0o2000000;

let programs: BuiltPrograms;
let fake: FakeUploader;

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
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  fake = await FakeUploader.start();
});
afterEach(async () => {
  await fake.close();
});

async function runShim(name: string, args: string[] = []) {
  const r = await run(programs.path(name), args, { env: fake.env() });
  expect(r.code, explain(r)).toBe(0);
  await fake.settled();
  return r;
}

describe('open family', () => {
  it('open with O_CREAT streams the bytes to the uploader and leaves no local file', async () => {
    await runShim('open_creates_virtual_file');
    expect(fake.text('a.txt')).toBe('hello, diskless\n');
    expect(fake.text('b.txt')).toBe('b');
    expect(fake.files.get('empty')?.size).toBe(0);
    const open = fake.requests.find((r) => r.type === 'OPEN' && r.path === 'a.txt');
    expect(open).toMatchObject({ flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644 });
    const openB = fake.requests.find((r) => r.type === 'OPEN' && r.path === 'b.txt');
    expect(openB && 'flags' in openB && openB.flags & O_CLOEXEC).toBeTruthy();
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('openat resolves relative paths against the dirfd and open against the cwd, collapsing . and ..', async () => {
    await runShim('openat_relative_to_dirfd');
    expect(fake.text('sub/b.txt')).toBe('via dirfd\n');
    expect(fake.text('sub/c.txt')).toBe('via cwd\n');
    expect(fake.text('d.txt')).toBe('up one\n');
    expect(fake.text('e.txt')).toBe('absolute\n');
    expect(existsSync(path.join(fake.vdir, 'sub'))).toBe(true);
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('a virtual directory named through a symlink also matches its resolved path (getcwd, dirfd)', async () => {
    const link = path.join(fake.root, 'link-to-vdir');
    symlinkSync(fake.vdir, link);
    const r = await run(programs.path('openat_relative_to_dirfd'), [], { env: fake.env({ DISKLESS_DIR: link }) });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('sub/b.txt')).toBe('via dirfd\n');
    expect(fake.text('sub/c.txt')).toBe('via cwd\n');
    expect(fake.text('d.txt')).toBe('up one\n');
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('creat delivers a megabyte written in pieces intact', async () => {
    await runShim('creat_and_write');
    expect(fake.files.get('big.bin')?.data.equals(pattern(1 << 20, 1))).toBe(true);
  });

  it('fortified builds calling __open_2 and __openat_2 are intercepted', async () => {
    const { stdout } = await run('nm', ['-D', '--undefined-only', programs.path('fortified_open_is_intercepted')], {
      env: process.env,
    });
    expect(stdout).toMatch(/\b__open_2\b/);
    expect(stdout).toMatch(/\b__openat_2\b/);
    await runShim('fortified_open_is_intercepted');
    expect(fake.text('fortified')).toBe('fortified\n');
    expect(fake.requests.filter((r) => r.type === 'OPEN')).toHaveLength(1);
  });

  it('programs built with _FILE_OFFSET_BITS=64 reach the shim through the *64 names', async () => {
    const { stdout } = await run('nm', ['-D', '--undefined-only', programs.path('open64_and_openat64')], { env: process.env });
    for (const name of ['open64', 'openat64', 'creat64', 'fopen64', 'freopen64', 'stat64']) expect(stdout).toContain(name);
    await runShim('open64_and_openat64');
    expect(fake.text('o64')).toBe('open64');
    expect(fake.text('oat64')).toBe('openat64');
    expect(fake.text('c64')).toBe('creat64');
    expect(fake.text('f64')).toBe('fopen64');
    expect(fake.text('fr64')).toBe('freopen64');
  });

  it('appending to an existing virtual file is refused with the uploader errno, and O_EXCL sees it', async () => {
    await runShim('o_append_to_existing_is_refused');
    expect(fake.text('log.txt')).toBe('first\n');
    expect(fake.text('blobs.toc')).toBe('blob 1\n');
    const flags = fake.requests.flatMap((r) => (r.type === 'OPEN' && r.path === 'log.txt' ? [r.flags] : []));
    expect(flags).toContain(O_WRONLY | O_CREAT | O_APPEND);
    expect(flags).toContain(O_WRONLY | O_CREAT | O_EXCL);
  });

  it('O_RDWR creates a random-access file (seek, read back, pwrite, ftruncate) whose final bytes close sends; mkstemp under the directory makes one', async () => {
    const r = await run(programs.path('rdwr_random_access_file'), [], { env: fake.env({ DISKLESS_RANDOM_ACCESS_LIMIT: String(64 * 1024) }) });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(fake.text('db')).toBe('HELLO world');
    expect(fake.text('temp.txt')).toBe('temp');
    expect(fake.requests.filter((q) => q.type === 'FAIL').map((q) => q.type === 'FAIL' && q.path)).toEqual(['shared']);
    expect(r.stderr).toMatch(/--random-access-limit/);
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('symlink and link into the virtual directory are refused with EPERM and reported to the uploader', async () => {
    const local = mkdtempSync(path.join(tmpdir(), 'diskless-links-'));
    try {
      await runShim('links_are_refused', [local]);
      expect(fake.requests.filter((q) => q.type === 'FAIL').map((q) => q.type === 'FAIL' && q.path)).toEqual(['link', 'link2', 'hard']);
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('O_TMPFILE in the virtual directory is refused with EOPNOTSUPP', async () => {
    await runShim('o_tmpfile_is_refused');
    expect(fake.connections).toBe(0);
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('paths outside the virtual directory, including a name-prefix sibling and a .. escape, stay local', async () => {
    const local = path.join(fake.root, 'local');
    mkdirSync(local);
    await runShim('path_outside_vdir_untouched', [local]);
    expect(fake.connections).toBe(0);
    expect(readFileSync(`${fake.vdir}-sibling/file`, 'utf8')).toBe('local\n');
    expect(readFileSync(path.join(fake.root, 'escaped.txt'), 'utf8')).toBe('local\n');
  });

  it('with the shim preloaded but no diskless environment, everything passes through', async () => {
    const local = path.join(fake.root, 'local');
    mkdirSync(local);
    const env = { ...withoutDisklessEnv(process.env), LD_PRELOAD: shimPath() };
    const r = await run(programs.path('no_env_means_passthrough'), [local], { env });
    expect(r.code, explain(r)).toBe(0);
    expect(readFileSync(path.join(local, 'renamed.txt'), 'utf8')).toBe('plain\nmore\n');
    expect(fake.connections).toBe(0);
  });

  it('hooks work inside constructors, including a library initialised before the shim', async () => {
    await runShim('hooks_work_inside_library_constructor');
    expect(fake.text('from-library-ctor')).toBe('library constructor\n');
    expect(fake.text('from-program-ctor')).toBe('program constructor\n');
  });
});
