import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ShimHarness } from '../../support/shim-harness.js';
import { buildPrograms, buildSanitizedShim, explain, run, type BuiltPrograms } from './harness.js';

// A descriptor's entry in the shim's fd table (native/shim/fd_table.c) names its file in memory
// that a close frees. Under AddressSanitizer, a thread that read that name after another thread's
// close freed it (fdt_get once handed out the table's pointer) fails the program.

const ROUNDS = 300;

let programs: BuiltPrograms;
let preload: string;
let up: ShimHarness;

beforeAll(async () => {
  programs = await buildPrograms([{ name: 'close_while_another_thread_seeks' }]);
  ({ preload } = await buildSanitizedShim(programs.dir));
});
afterAll(() => programs?.cleanup());
beforeEach(async () => {
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

describe('the fd table under threads (AddressSanitizer build of the shim)', () => {
  it(`a close of a read-back file while another thread seeks it frees nothing the seek still reads (${ROUNDS} rounds)`, async () => {
    const r = await run(programs.path('close_while_another_thread_seeks'), [String(ROUNDS)], {
      env: up.env({ vars: { LD_PRELOAD: preload, ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1' } }),
      timeoutMs: 60_000,
    });
    expect(r.stderr).not.toContain('AddressSanitizer');
    expect(r.code, explain(r)).toBe(0);
    expect(up.text('seek-race.dat')).toBe('stored bytes\n');
  });
});
