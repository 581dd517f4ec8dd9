// CPU per small PutObject (issue 13, goal 3): the SDK's `send(PutObjectCommand)` against diskless's
// direct PutObject (src/s3/direct-requests.ts: the SDK's endpoint resolution, credentials and SigV4 signer, sent over plain HTTP by src/s3/socket-http.ts,
// without its middleware stack), both through S3ObjectStore as the commands use it, against the discard
// sink, rounds interleaved.
//
//   npm run build && node bench/put-request-cost.mjs [COUNT] [CONCURRENCY] [ROUNDS]
//
// COUNT PutObjects (default 2000) of 4-64 KiB bodies (the sizes of bench/small-files.sh), CONCURRENCY at
// once (default 8), ROUNDS rounds (default 3). Prints, per round and case, wall seconds and this
// process's CPU-ms per request (user + sys; the sink runs in another process), then the medians and the
// ratio direct ÷ SDK. Start-up is outside the timed part: a warm-up of 200 requests per case comes first.
// V8 runs with the flags bin/diskless.js sets for `diskless run` (src/cli/v8-flags.ts: no optimising
// compiler, optimised for size), as the uploader does; FLAGS=none runs with Node's defaults instead.
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { startSink } from './lib/start-sink.mjs';

const { v8FlagsFor } = await import('../dist/cli/v8-flags.js');
const flags = process.env.FLAGS === 'none' ? [] : v8FlagsFor(['run']);
for (const flag of flags) setFlagsFromString(flag);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.AWS_ACCESS_KEY_ID ??= 'testaccesskey';
process.env.AWS_SECRET_ACCESS_KEY ??= 'testsecretkey';
const { createHttpTransport, createS3Client } = await import('../dist/s3/s3-client.js');
const { S3ObjectStore } = await import('../dist/s3/s3-object-store.js');

const count = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);
const rounds = Number(process.argv[4] ?? 3);
for (const [name, v] of [['COUNT', count], ['CONCURRENCY', concurrency], ['ROUNDS', rounds]]) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`put-request-cost: ${name} must be a positive integer`);
}

const { child: sink, endpoint } = await startSink();

const bodies = Array.from({ length: 61 }, (_, i) => randomBytes((i + 4) * 1024));
const md5s = bodies.map((b) => createHash('md5').update(b).digest('base64'));

function storeFor(direct) {
  const conn = { endpointUrl: endpoint, region: 'us-east-1' };
  const transport = createHttpTransport(conn);
  const client = createS3Client(conn, transport);
  return { store: new S3ObjectStore(client, 'sink', direct ? transport : undefined), client };
}
const cases = { sdk: storeFor(false), direct: storeFor(true) };

async function putMany(store, prefix, n) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const k = (i * 7919) % 61;
      await store.putObject({ bucket: 'bench', key: `${prefix}/f${i}.bin`, body: [bodies[k]], contentLength: bodies[k].length, contentMd5: md5s[k], settings: {} });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

for (const [name, { store }] of Object.entries(cases)) await putMany(store, `warm-${name}`, 200);
const results = { sdk: [], direct: [] };
for (let r = 1; r <= rounds; r++) {
  const order = r % 2 === 1 ? ['sdk', 'direct'] : ['direct', 'sdk'];
  for (const name of order) {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await putMany(cases[name].store, `r${r}-${name}`, count);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const perRequest = (cpu.user + cpu.system) / 1000 / count;
    results[name].push({ wall, perRequest });
    console.log(`round ${r} ${name.padEnd(6)} wall ${wall.toFixed(2)} s, ${perRequest.toFixed(3)} CPU-ms per PutObject`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = (name, f) => median(results[name].map((x) => x[f]));
console.log(`\n${count} PutObjects of 4-64 KiB, ${concurrency} at once, ${rounds} rounds, V8 flags: ${flags.join(' ') || "Node's defaults"}, ${new Date().toISOString()}`);
console.log('| case | wall s | CPU-ms per PutObject |\n|---|---|---|');
console.log(`| SDK send(PutObjectCommand) | ${m('sdk', 'wall').toFixed(2)} | ${m('sdk', 'perRequest').toFixed(3)} |`);
console.log(`| direct (direct-requests.ts) | ${m('direct', 'wall').toFixed(2)} | ${m('direct', 'perRequest').toFixed(3)} |`);
console.log(`direct ÷ SDK: wall ${(m('direct', 'wall') / m('sdk', 'wall')).toFixed(2)}, CPU ${(m('direct', 'perRequest') / m('sdk', 'perRequest')).toFixed(2)}`);
for (const { client } of Object.values(cases)) client.destroy();
sink.kill();
