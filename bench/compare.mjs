#!/usr/bin/env node
// diskless put against its peers on the same work: one pseudo-random stream from stdin into one
// object, against the discard sink (bench/discard-sink.mjs: bodies MD5'd and dropped), every case
// run once per round, rounds interleaved (the case order rotates), ratios paired within a round.
//
//   npm run build && node bench/compare.mjs                    # 4 GiB, 3 rounds, every case found
//   SIZE=1G ROUNDS=5 CASES=lib-storage,diskless node bench/compare.mjs
//   SINK_PORT=19300 …                                           # the discard sink on a fixed port (default: a free one)
//
// Cases (a peer that is not installed is skipped, with the command that installs it):
//   lib-storage           @aws-sdk/lib-storage Upload, 16 MiB parts x 4, the SDK's default checksums
//                         (the reference every ratio is against)
//   lib-storage-wr        the same with requestChecksumCalculation WHEN_REQUIRED (no CRC32 per part)
//   aws                   `aws s3 cp - s3://…` (aws-cli found on PATH)
//   rclone                `rclone rcat` (Debian package rclone)
//   diskless              `bin/diskless.js put` through its shebang, as users run it
//   diskless-node         `node bin/diskless.js put` (the launcher sets its V8 flags at run time: the
//                         figures should match the case above)
//   diskless-md5          `bin/diskless.js put --part-checksum md5`: Content-MD5 parts, as on stores that
//                         ignore CRC32C part checksums (the sink takes them, as AWS does, so the defaults
//                         send CRC32C)
//   diskless-encrypted    `bin/diskless.js put --encrypt-to …` (only if this diskless has --encrypt-to and
//                         age-keygen is installed)
// lib-storage and its client are installed on first use into $DISKLESS_BENCH_PEERS (default
// ~/.cache/diskless-bench-peers) with npm, at the @aws-sdk/client-s3 version diskless uses.
//
// Each case runs as `GENERATOR | /usr/bin/time -v CASE`: wall s, MB/s (10^6 B/s), client CPU s (user+sys of the
// case's processes) and peak RSS are of the case alone. The generator is an AES-256-CTR keystream
// (openssl, incompressible, no disk). The sink's own CPU competes for the same cores: on a 2-core
// machine read the ratios, not the absolute figures. Prints a Markdown table: medians (ranges) and
// the ratios wall ÷ lib-storage's and CPU ÷ lib-storage's, paired per round.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSink } from './lib/start-sink.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIZE = process.env.SIZE ?? '4G';
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BYTES = parseSize(SIZE);
const PEERS = process.env.DISKLESS_BENCH_PEERS ?? join(homedir(), '.cache', 'diskless-bench-peers');
const WORK = mkdtempSync(join(tmpdir(), 'diskless-compare-'));
const BUCKET = 'bench';

process.env.AWS_ACCESS_KEY_ID ??= 'testaccesskey';
process.env.AWS_SECRET_ACCESS_KEY ??= 'testsecretkey';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.DISKLESS_STATE_DIR = join(WORK, 'state');

function parseSize(text) {
  const m = /^(\d+)([KMG]?)(i?B)?$/i.exec(text);
  if (!m) throw new Error(`SIZE '${text}' is not a size (4G, 512M, bytes)`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
}

function which(cmd) {
  try {
    return execFileSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function ensureLibStorage() {
  const marker = join(PEERS, 'node_modules', '@aws-sdk', 'lib-storage', 'package.json');
  if (existsSync(marker)) return true;
  const version = JSON.parse(readFileSync(join(ROOT, 'node_modules', '@aws-sdk', 'client-s3', 'package.json'), 'utf8')).version;
  mkdirSync(PEERS, { recursive: true });
  if (!existsSync(join(PEERS, 'package.json'))) writeFileSync(join(PEERS, 'package.json'), '{"name":"diskless-bench-peers","private":true}\n');
  console.error(`compare: installing @aws-sdk/lib-storage@${version} into ${PEERS}`);
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', PEERS, `@aws-sdk/lib-storage@${version}`, `@aws-sdk/client-s3@${version}`], { stdio: 'inherit' });
    return true;
  } catch {
    return false;
  }
}

function defineCases(endpoint) {
  const shq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cases = [];
  const skipped = [];
  const key = (name, round) => `${name}-${round}`;
  if (ensureLibStorage()) {
    const ls = (checksums) => (round, name) =>
      `DISKLESS_BENCH_PEERS=${shq(PEERS)} node ${shq(join(ROOT, 'bench/peers/lib-storage-put.mjs'))} ${endpoint} ${BUCKET} ${key(name, round)} 16 4 ${checksums}`;
    cases.push({ name: 'lib-storage', label: '@aws-sdk/lib-storage 16 MiB × 4 (reference)', cmd: ls('default') });
    cases.push({ name: 'lib-storage-wr', label: 'lib-storage, checksums WHEN_REQUIRED', cmd: ls('when-required') });
  } else skipped.push('lib-storage (npm install failed)');
  const aws = which('aws');
  if (aws) cases.push({ name: 'aws', label: '`aws s3 cp -`', cmd: (round, name) => `${shq(aws)} --endpoint-url ${endpoint} s3 cp - s3://${BUCKET}/${key(name, round)}` });
  else skipped.push('aws (apt-get install awscli)');
  const rclone = which('rclone');
  if (rclone) {
    // Keys given explicitly: rclone's env_auth path refuses AWS_CA_BUNDLE on a plain-HTTP endpoint.
    const env =
      `env -u AWS_CA_BUNDLE RCLONE_CONFIG_SINK_TYPE=s3 RCLONE_CONFIG_SINK_PROVIDER=Other RCLONE_CONFIG_SINK_ENDPOINT=${endpoint} ` +
      `RCLONE_CONFIG_SINK_ACCESS_KEY_ID=${process.env.AWS_ACCESS_KEY_ID} RCLONE_CONFIG_SINK_SECRET_ACCESS_KEY=${process.env.AWS_SECRET_ACCESS_KEY}`;
    cases.push({ name: 'rclone', label: '`rclone rcat`', cmd: (round, name) => `${env} ${shq(rclone)} rcat sink:${BUCKET}/${key(name, round)}` });
  } else skipped.push('rclone (apt-get install rclone)');
  const dl = `${shq(join(ROOT, 'bin/diskless.js'))} put --overwrite --endpoint-url ${endpoint}`;
  cases.push({ name: 'diskless', label: '`diskless put` (defaults)', cmd: (round, name) => `${dl} s3://${BUCKET}/${key(name, round)}` });
  cases.push({ name: 'diskless-node', label: '`node bin/diskless.js put`', cmd: (round, name) => `node ${dl} s3://${BUCKET}/${key(name, round)}` });
  const help = execFileSync(join(ROOT, 'bin/diskless.js'), ['put', '--help'], { encoding: 'utf8' });
  // The sink takes CRC32C part checksums as AWS does, so the defaults send CRC32C; this case is the MD5 path of
  // stores that ignore them (Ceph 16, Swift).
  if (help.includes('--part-checksum')) {
    cases.push({ name: 'diskless-md5', label: '`diskless put --part-checksum md5`', cmd: (round, name) => `${dl} --part-checksum md5 s3://${BUCKET}/${key(name, round)}` });
  }
  const keygen = which('age-keygen');
  if (help.includes('--encrypt-to') && keygen) {
    const recipient = execFileSync(keygen, ['-y'], { input: execFileSync(keygen, [], { encoding: 'utf8' }), encoding: 'utf8' }).trim();
    cases.push({ name: 'diskless-encrypted', label: '`diskless put --encrypt-to`', cmd: (round, name) => `${dl} --encrypt-to ${recipient} s3://${BUCKET}/${key(name, round)}` });
  } else skipped.push('diskless-encrypted (needs --encrypt-to and age-keygen)');
  const wanted = process.env.CASES?.split(',').map((s) => s.trim());
  return { cases: wanted ? cases.filter((c) => wanted.includes(c.name)) : cases, skipped };
}

function timeField(text, label) {
  const line = text.split('\n').find((l) => l.trim().startsWith(`${label}:`));
  return line ? line.trim().slice(label.length + 1).trim() : undefined;
}

function runCase(c, round) {
  const tf = join(WORK, `time-${c.name}-${round}`);
  const gen = `openssl enc -aes-256-ctr -pass pass:diskless-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c ${BYTES}`;
  // The generator's openssl ends with EPIPE when head has enough: only the case's status counts.
  const script = `{ ${gen}; } | /usr/bin/time -v -o ${tf} bash -c ${JSON.stringify(c.cmd(round, c.name))} >/dev/null; exit \${PIPESTATUS[1]}`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${c.name} (round ${round}) failed with exit ${code}:\n${err}`));
      const t = readFileSync(tf, 'utf8');
      const wall = timeField(t, 'Elapsed (wall clock) time (h:mm:ss or m:ss)').split(':').reduce((s, x) => s * 60 + Number(x), 0);
      const cpu = Number(timeField(t, 'User time (seconds)')) + Number(timeField(t, 'System time (seconds)'));
      const rss = Number(timeField(t, 'Maximum resident set size (kbytes)')) / 1024;
      resolve({ wall, cpu, rss, mbps: BYTES / wall / 1e6 });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs, digits) => {
  const m = median(xs).toFixed(digits);
  return xs.length > 1 ? `${m} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : m;
};

async function main() {
  for (const tool of ['openssl', '/usr/bin/time']) if (!which(tool)) throw new Error(`${tool} not found (apt-get install ${tool === 'openssl' ? 'openssl' : 'time'})`);
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build first');
  const sink = await startSink();
  try {
    const { cases, skipped } = defineCases(sink.endpoint);
    const results = new Map(cases.map((c) => [c.name, []]));
    const load = [loadavg()[0]];
    console.error(`compare: ${SIZE} per case, ${ROUNDS} rounds, cases: ${cases.map((c) => c.name).join(', ')}`);
    for (let round = 1; round <= ROUNDS; round++) {
      const order = cases.map((_, i) => cases[(i + round - 1) % cases.length]);
      for (const c of order) {
        const r = await runCase(c, round);
        results.get(c.name)[round - 1] = r;
        console.error(`  round ${round} ${c.name}: ${r.wall.toFixed(2)} s, ${r.mbps.toFixed(0)} MB/s, CPU ${r.cpu.toFixed(2)} s, RSS ${r.rss.toFixed(1)} MiB`);
      }
      load.push(loadavg()[0]);
    }
    const ref = results.get('lib-storage');
    console.log(`\n${SIZE} stream from stdin to the discard sink, ${ROUNDS} rounds, ${new Date().toISOString()}, load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}\n`);
    console.log('| case | wall s | MB/s | client CPU s | peak RSS MiB | wall ÷ lib-storage | CPU ÷ lib-storage |');
    console.log('|---|---|---|---|---|---|---|');
    for (const c of cases) {
      const rs = results.get(c.name);
      const ratio = (f) => (ref ? fmt(rs.map((r, i) => r[f] / ref[i][f]), 2) : '—');
      console.log(`| ${c.label} | ${fmt(rs.map((r) => r.wall), 2)} | ${fmt(rs.map((r) => r.mbps), 0)} | ${fmt(rs.map((r) => r.cpu), 2)} | ${fmt(rs.map((r) => r.rss), 1)} | ${ratio('wall')} | ${ratio('cpu')} |`);
    }
    if (skipped.length) console.log(`\nSkipped: ${skipped.join('; ')}`);
  } finally {
    sink.child.kill('SIGTERM');
    rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`compare: ${err.message}`);
  process.exitCode = 1;
});
