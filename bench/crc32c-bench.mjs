// CRC32C throughput micro benchmark.
//   npx tsc -p tsconfig.build.json && npm run build:native && node bench/crc32c-bench.mjs [MiB]
// Prints GB/s (10^9 bytes/s) for the native dispatching path (SSE4.2 when the CPU
// has it), the forced portable path, and Node's zlib.crc32 (CRC-32, not CRC-32C:
// only a yardstick) over one buffer (default 256 MiB).
import { randomFillSync } from 'node:crypto';
import zlib from 'node:zlib';

import { crc32c, crc32cImplementation, crc32cPortable } from '../dist/checksum/crc32c.js';

const mib = Number(process.argv[2] ?? 256);
if (!Number.isFinite(mib) || mib <= 0) throw new Error(`bad size in MiB: ${process.argv[2]}`);
const size = Math.floor(mib * 1024 * 1024);
const buf = Buffer.allocUnsafe(size);
for (let off = 0; off < size; off += 64 * 1024 * 1024) {
  randomFillSync(buf, off, Math.min(64 * 1024 * 1024, size - off));
}

/** Best of `runs` timed passes (after one warm-up), in GB/s. */
function measure(fn, runs = 5) {
  fn(buf);
  let best = Infinity;
  let result = 0;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    result = fn(buf);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.min(best, seconds);
  }
  return { gbps: size / best / 1e9, ms: best * 1e3, result };
}

const rows = [
  [`crc32c native (${crc32cImplementation()})`, (b) => crc32c(b)],
  ['crc32c portable (slicing-by-8)', (b) => crc32cPortable(b)],
];
if (typeof zlib.crc32 === 'function') {
  rows.push(['zlib.crc32 (CRC-32, yardstick)', (b) => zlib.crc32(b)]);
} else {
  console.log(`zlib.crc32 is not available in Node ${process.version}; skipped`);
}

console.log(`Node ${process.version}, ${process.arch}, buffer ${mib} MiB, best of 5 after warm-up`);
const results = rows.map(([name, fn]) => ({ name, ...measure(fn) }));
for (const { name, gbps, ms, result } of results) {
  console.log(
    `${name.padEnd(34)} ${gbps.toFixed(2).padStart(7)} GB/s  ${ms.toFixed(1).padStart(8)} ms  ` +
      `0x${(result >>> 0).toString(16).padStart(8, '0')}`,
  );
}
if (results[0].result !== results[1].result) {
  console.error('MISMATCH: native and portable CRC32C differ');
  process.exitCode = 1;
}
