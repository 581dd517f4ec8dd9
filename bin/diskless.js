#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli/main.ts by `npm run build` (run by `npm install`).
//
// It sets V8 flags at run time (not on a shebang line, so that `diskless`, `node bin/diskless.js`
// and `npx diskless` all get them): which ones, per command, and why, is src/cli/v8-flags.ts
// (docs/BENCHMARKS.md has the measurements). That module imports nothing of the CLI but its list
// of global options, and main.js is imported only after the flags are set, so they apply to all
// of the CLI's code.
import { setFlagsFromString } from 'node:v8';
import { v8FlagsFor } from '../dist/cli/v8-flags.js';

for (const flag of v8FlagsFor(process.argv.slice(2))) setFlagsFromString(flag);

// The SDK warns on every start that its releases after January 2027 need Node 22; diskless pins one
// that supports Node 20. The variable must be set before the SDK loads, hence the dynamic import.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/cli/main.js');
