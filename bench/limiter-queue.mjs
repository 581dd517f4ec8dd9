// Queueing cost of src/util/limiter.ts (restore and verify queue every file of a backup at once):
// N waiters on one AbortSignal, 4 slots, each released at once; prints milliseconds per N. Linear in N
// since 2026-12-03 (one abort listener per signal, an index instead of Array.shift); quadratic before.
//
//   npm run build && node bench/limiter-queue.mjs [N…]        (default 2000 20000 100000)
//   node bench/limiter-queue.mjs 2000 20000 -- /path/to/other/dist/util/limiter.js   (another build)
const args = process.argv.slice(2);
const sep = args.indexOf('--');
const sizes = (sep >= 0 ? args.slice(0, sep) : args).map(Number);
const modulePath = sep >= 0 ? args[sep + 1] : new URL('../dist/util/limiter.js', import.meta.url).href;
const { Limiter } = await import(modulePath);
for (const n of sizes.length ? sizes : [2000, 20000, 100000]) {
  if (!Number.isInteger(n) || n <= 0) throw new Error(`limiter-queue: ${n} is not a positive count`);
  const limiter = new Limiter(4);
  const abort = new AbortController();
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: n }, async () => {
    await limiter.acquire(abort.signal);
    await null;
    limiter.release();
  }));
  console.log(`${n} waiters: ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(0)} ms`);
}
