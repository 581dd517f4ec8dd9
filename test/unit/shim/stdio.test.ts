import os from 'node:os';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { FakeS3Error } from '../../fakes/memory-object-store.js';
import { ShimHarness } from '../../support/shim-harness.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

// stdio on virtual files, against the real uploader (IngestServer + VirtualFiles over the in-memory store).

const { errno } = os.constants;
const O_CLOEXEC = 0o2000000; // Linux (x86_64 and aarch64)

let programs: BuiltPrograms;
let up: ShimHarness;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'fopen_w_and_fprintf' },
    { name: 'freopen_stdout_to_virtual_file' },
    { name: 'writev_and_fwrite' },
    { name: 'fclose_returns_eof_when_upload_fails' },
  ]);
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

describe('stdio', () => {
  it('fopen "w" + fprintf + fclose stores every line; "we" asks for O_CLOEXEC', async () => {
    const r = await run(programs.path('fopen_w_and_fprintf'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    const expected = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
    expect(up.text('lines.txt')).toBe(expected);
    expect(up.text('cloexec.txt')).toBe('e\n');
    expect(up.object('binary.bin')).toEqual(Buffer.from([0, 1, 2]));
    expect((up.callsOf('OPEN').find((c) => c.path === 'cloexec.txt')?.flags ?? 0) & O_CLOEXEC).toBe(O_CLOEXEC);
    expect(regularFilesUnder(up.vdir)).toEqual([]);
  });

  it('freopen onto stdout keeps fd 1, sends printf output to the virtual file and fclose reports success', async () => {
    const r = await run(programs.path('freopen_stdout_to_virtual_file'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    await up.settled();
    expect(r.stdout).toBe('buffered before freopen, goes to the old stdout\n');
    expect(up.text('out.txt')).toBe('printf line 0\nprintf line 1\nprintf line 2\n');
    expect(up.text('err.txt')).toBe('to err.txt\n');
  });

  it('writev and fwrite need no hook: the bytes arrive through the socket', async () => {
    const r = await run(programs.path('writev_and_fwrite'), [], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('v.txt')).toBe('one two three\n');
    expect(up.object('w.bin')?.equals(pattern(100_000, 2))).toBe(true);
  });

  it('fclose returns EOF with EIO when the store refuses the object', async () => {
    up.store.failNext('put', new FakeS3Error('AccessDenied', 403, 'Access Denied'));
    const r = await run(programs.path('fclose_returns_eof_when_upload_fails'), ['doomed.txt', String(errno.EIO)], { env: up.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(up.storedPaths()).toEqual([]);
    expect(up.failures.map((f) => f.path)).toEqual(['doomed.txt']);
  });
});
