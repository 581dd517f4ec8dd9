#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli/main.ts by `npm run build` (run by `npm install`).
//
// V8 flags that trade a little CPU for memory (docs/BENCHMARKS.md, "Memory however diskless is
// started"): upload data lives in reused slabs outside the JS heap, so V8's optimising compilers
// (~14 MiB of code and feedback) and its heap sizing for speed would cost more than they bring.
// They are set here, at run time, and not on a shebang line, so that `diskless`, `node
// bin/diskless.js` and `npx diskless` all run with them; set before the CLI's modules load, they
// apply to all of its code. Not `--lite-mode`: at run time it turns on --jitless, and V8 then aborts
// the process on the first WebAssembly compile (Node's fetch compiles one); the library
// (src/index.ts) never sets flags: a program that embeds it keeps its own.
//
// Except --optimize-for-size for the commands that read objects back (get, restore, verify): every
// 64 KiB socket read passes through JS there, and under that flag the garbage collector's share of
// a 1 GiB get grew from 0.5 to 2.2 s and get's CPU about doubled; without it get costs some 20 MiB
// more peak RSS (docs/BENCHMARKS.md, "Reading, goal 5"). The command is the first argument that is
// not an option nor the value of a global option.
import { setFlagsFromString } from 'node:v8';

// --semi-space-growth-factor=1: the young generation keeps its starting size instead of growing
// with the allocation rate (each request's garbage); without it a long upload's RSS crept by
// ~20 MiB over its first thousand parts with the JS heap in use flat (docs/BENCHMARKS.md, "Memory,
// goal 4"). Read by V8 at each growth, so it works set here, unlike --max-semi-space-size. The
// readers go without it too (measured so: their garbage is per socket read).
const READERS = new Set(['get', 'restore', 'verify']);
const args = process.argv.slice(2);
const command = args.find((a, i) => !a.startsWith('-') && args[i - 1] !== '--log-format' && args[i - 1] !== '--metrics-file');
const flags = ['--no-opt', '--no-maglev', ...(READERS.has(command) ? [] : ['--optimize-for-size', '--semi-space-growth-factor=1'])];
for (const flag of flags) setFlagsFromString(flag);

// The SDK warns on every start that its releases after January 2027 need Node 22; diskless pins one
// that supports Node 20. The variable must be set before the SDK loads, hence the dynamic import.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/cli/main.js');
