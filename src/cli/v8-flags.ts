import { commandOf } from './global-options.js';

/**
 * The V8 flags bin/diskless.js sets at run time, before it loads the CLI, for the command argv
 * (the arguments after `diskless`) runs. Side-effect free, and it imports only global-options.ts:
 * the launcher loads it before the CLI's modules, so the flags apply to all of their code.
 *
 * Flags that trade a little CPU for memory (docs/BENCHMARKS.md, "Memory however diskless is
 * started"): upload data lives in reused slabs outside the JS heap, so V8's optimising compilers
 * (~14 MiB of code and feedback) and its heap sizing for speed would cost more than they bring.
 * They are set at run time, and not on a shebang line, so that `diskless`, `node bin/diskless.js`
 * and `npx diskless` all run with them. Not `--lite-mode`: at run time it turns on --jitless, and
 * V8 then aborts the process on the first WebAssembly compile (Node's fetch compiles one). The
 * library (src/index.ts) never sets flags: a program that embeds it keeps its own.
 *
 * --semi-space-growth-factor=1: the young generation keeps its starting size instead of growing
 * with the allocation rate (each request's garbage); without it a long upload's RSS crept by ~20
 * MiB over its first thousand parts with the JS heap in use flat (docs/BENCHMARKS.md, "Memory,
 * goal 4"). Read by V8 at each growth, so it works set at run time, unlike --max-semi-space-size.
 *
 * The commands that read objects back (get, restore, verify) go without --optimize-for-size and
 * --semi-space-growth-factor: every 64 KiB socket read passes through JS there, and under the
 * first the garbage collector's share of a 1 GiB get grew from 0.5 to 2.2 s and get's CPU about
 * doubled; without it get costs some 20 MiB more peak RSS (docs/BENCHMARKS.md, "Reading, goal
 * 5"). The second was measured with them too: their garbage is per socket read.
 */
const READERS: readonly string[] = ['get', 'restore', 'verify'];

export function v8FlagsFor(argv: readonly string[]): string[] {
  const command = commandOf(argv);
  const reader = command !== undefined && READERS.includes(command);
  return ['--no-opt', '--no-maglev', ...(reader ? [] : ['--optimize-for-size', '--semi-space-growth-factor=1'])];
}
