import os from 'node:os';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { FakeUploader } from '../../fakes/fake-uploader.js';
import { buildPrograms, explain, pattern, regularFilesUnder, run, type BuiltPrograms } from './harness.js';

const { errno } = os.constants;

let programs: BuiltPrograms;
let fake: FakeUploader;

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
  fake = await FakeUploader.start();
});
afterEach(async () => {
  await fake.close();
});

describe('stdio', () => {
  it('fopen "w" + fprintf + fclose stores every line; "we" asks for O_CLOEXEC', async () => {
    const r = await run(programs.path('fopen_w_and_fprintf'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    const expected = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
    expect(fake.text('lines.txt')).toBe(expected);
    expect(fake.text('cloexec.txt')).toBe('e\n');
    expect(fake.files.get('binary.bin')?.data).toEqual(Buffer.from([0, 1, 2]));
    expect(regularFilesUnder(fake.vdir)).toEqual([]);
  });

  it('freopen onto stdout keeps fd 1, sends printf output to the virtual file and fclose reports success', async () => {
    const r = await run(programs.path('freopen_stdout_to_virtual_file'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    await fake.settled();
    expect(r.stdout).toBe('buffered before freopen, goes to the old stdout\n');
    expect(fake.text('out.txt')).toBe('printf line 0\nprintf line 1\nprintf line 2\n');
    expect(fake.text('err.txt')).toBe('to err.txt\n');
  });

  it('writev and fwrite need no hook: the bytes arrive through the socket', async () => {
    const r = await run(programs.path('writev_and_fwrite'), [], { env: fake.env() });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.text('v.txt')).toBe('one two three\n');
    expect(fake.files.get('w.bin')?.data.equals(pattern(100_000, 2))).toBe(true);
  });

  it('fclose returns EOF with the errno of a failed upload', async () => {
    fake.behave('doomed.txt', { failResult: errno.ENOSPC });
    const r = await run(programs.path('fclose_returns_eof_when_upload_fails'), ['doomed.txt', String(errno.ENOSPC)], {
      env: fake.env(),
    });
    expect(r.code, explain(r)).toBe(0);
    expect(fake.files.has('doomed.txt')).toBe(false);
  });

  it('fclose returns EOF with EIO when the uploader drops the connection without a result', async () => {
    fake.behave('dropped.txt', { dropAtEof: true });
    const r = await run(programs.path('fclose_returns_eof_when_upload_fails'), ['dropped.txt', String(errno.EIO)], {
      env: fake.env(),
    });
    expect(r.code, explain(r)).toBe(0);
  });
});
