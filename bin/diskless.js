#!/usr/bin/env -S node --max-semi-space-size=1 --lite-mode --no-expose-wasm
// Thin launcher: the CLI is compiled from src/cli/main.ts by `npm run build` (run by `npm install`).
// The flags trade a little CPU for memory (docs/BENCHMARKS.md): upload data lives in reused slabs
// outside the JS heap, so V8's default young generation (16-32 MiB) and optimising compiler (~14 MiB
// of code and feedback) would cost more than they bring. Lite mode has no WebAssembly, hence
// --no-expose-wasm (which also keeps V8 from warning about it).
//
// The SDK warns on every start that its releases after January 2027 need Node 22; diskless pins one
// that supports Node 20. The variable must be set before the SDK loads, hence the dynamic import.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/cli/main.js');
