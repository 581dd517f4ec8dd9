// Vitest globalSetup: finds or starts the real S3 server (Ceph RGW) that every end-to-end test uses, once per run,
// and hands its coordinates to the tests with project.provide('s3', …) (read them with testS3() from
// test/support/s3-test-env.ts).
//
// Order:
//   1. DISKLESS_TEST_S3_ENDPOINT set: use that server (keys from DISKLESS_TEST_S3_ACCESS_KEY / _SECRET_KEY, optional
//      second user DISKLESS_TEST_S3_OTHER_ACCESS_KEY / _OTHER_SECRET_KEY). Never started or stopped here.
//   2. The server on 127.0.0.1:${RGW_PORT:-19001} was started by this project's scripts/rgw/rgw-up.sh (its state dir
//      ${DISKLESS_RGW_DIR:-/tmp/diskless-rgw} holds the .diskless-rgw marker, a ceph.conf naming that port and a live
//      radosgw): reuse it, leave it running at teardown. A server the scripts did not start is never reused: it may
//      lack the second user, the STANDARD_IA class, the KMS keys or the extra gateways, and its failures would hide
//      real results.
//   3. Nothing answers there: start a fresh cluster on it with scripts/rgw/rgw-up.sh and stop it at teardown with
//      rgw-down.sh (DISKLESS_KEEP_RGW=1 keeps it running; so does another test run still using it, see the leases below).
//   4. Something else answers there: start a private cluster on free ports, in its own state dir, for this run only.
// If the server cannot be started (not root, Ceph packages missing) the whole run fails with the command to run:
// a silently skipped end-to-end suite would hide exactly the bugs it exists to catch.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { TestProject } from 'vitest/node';
import { isAlive } from '../../src/process/is-alive.js';

export interface TestS3Config {
  /** 'env': DISKLESS_TEST_S3_ENDPOINT; 'reused': a server already running on 127.0.0.1; 'started': started by this run. */
  source: 'env' | 'reused' | 'started';
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Second user, for AccessDenied on the first user's buckets; null for an external server without them. */
  otherAccessKeyId: string | null;
  otherSecretAccessKey: string | null;
  /** State dir of the local cluster made by rgw-up.sh (DISKLESS_RGW_DIR for the scripts); null for an external server. */
  stateDir: string | null;
  /** Whether scripts/rgw/rgw-gateway.sh can start extra radosgw daemons (local cluster of rgw-up.sh, running as root). */
  canStartGateways: boolean;
}

declare module 'vitest' {
  export interface ProvidedContext {
    s3: TestS3Config;
  }
}

export const INSTALL_COMMAND =
  'sudo apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common bc uuid-runtime curl';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RGW_SCRIPTS = join(REPO_ROOT, 'scripts', 'rgw');
const RGW_PORT = Number(process.env.RGW_PORT ?? 19001);
const LOCAL_ENDPOINT = `http://127.0.0.1:${RGW_PORT}`;
const STATE_DIR = resolve(process.env.DISKLESS_RGW_DIR ?? '/tmp/diskless-rgw'); // as the scripts' realpath
const REGION = process.env.DISKLESS_TEST_S3_REGION ?? 'us-east-1';
const TEST_KEYS = { accessKeyId: 'testaccesskey', secretAccessKey: 'testsecretkey' };
const OTHER_KEYS = { accessKeyId: 'otheraccesskey', secretAccessKey: 'othersecretkey' };
const RGW_UP_TIMEOUT_MS = 240_000;
/** rgw-up.sh exit codes (see its header). */
const EXIT_PREREQ = 2;
const EXIT_ALREADY_RUNNING = 3;

const log = (msg: string): void => console.log(`[global-rgw] ${msg}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DISKLESS_TEST_S3_ENDPOINT;
  if (external) {
    const config = await useExternal(external);
    project.provide('s3', config);
    log(`using external S3 ${config.endpoint} (DISKLESS_TEST_S3_ENDPOINT)`);
    return async () => {};
  }

  const found = await probe(LOCAL_ENDPOINT, TEST_KEYS);
  const ours = projectStateDir(STATE_DIR, RGW_PORT);
  let cluster: Cluster = { endpoint: LOCAL_ENDPOINT, stateDir: STATE_DIR, env: {} };
  let source: 'reused' | 'started';
  if (found.kind !== 'down' && ours) {
    if (found.kind === 'rejected') {
      throw new Error(
        `The RGW of scripts/rgw/rgw-up.sh on ${LOCAL_ENDPOINT} rejects the test keys (${found.message}). ` +
          `Restart it (${join(RGW_SCRIPTS, 'rgw-down.sh')}, then run the tests again), or set DISKLESS_TEST_S3_ENDPOINT.`,
      );
    }
    source = 'reused';
  } else if (found.kind === 'down') {
    source = await startCluster(cluster);
  } else {
    cluster = await privateCluster();
    log(
      `something answers on ${LOCAL_ENDPOINT} but scripts/rgw/rgw-up.sh did not start it (no ${join(STATE_DIR, MARKER)} with a live ` +
        `radosgw on that port): not reusing it; starting a private RGW on ${cluster.endpoint} (state ${cluster.stateDir})`,
    );
    source = await startCluster(cluster);
  }
  const stateDir = projectStateDir(cluster.stateDir, Number(new URL(cluster.endpoint).port));
  const hasOther = (await probe(cluster.endpoint, OTHER_KEYS)).kind === 'ok';
  if (!hasOther) log(`the server on ${cluster.endpoint} does not know the second user (${OTHER_KEYS.accessKeyId}): tests needing it are skipped`);
  const config: TestS3Config = {
    source,
    endpoint: cluster.endpoint,
    region: REGION,
    ...TEST_KEYS,
    otherAccessKeyId: hasOther ? OTHER_KEYS.accessKeyId : null,
    otherSecretAccessKey: hasOther ? OTHER_KEYS.secretAccessKey : null,
    stateDir,
    canStartGateways: stateDir !== null && process.getuid?.() === 0,
  };
  project.provide('s3', config);
  log(
    `${source === 'reused' ? 'reusing the RGW already running' : 'started RGW'} on ${cluster.endpoint}` +
      (stateDir ? ` (state ${stateDir})` : ' (state dir unknown: extra gateways disabled)'),
  );
  const lease = stateDir ? takeLease(stateDir) : null;

  return async () => {
    lease?.release();
    if (source !== 'started') return;
    if (process.env.DISKLESS_KEEP_RGW === '1') {
      log(`DISKLESS_KEEP_RGW=1: leaving RGW running on ${cluster.endpoint}; stop it with DISKLESS_RGW_DIR=${cluster.stateDir} ${join(RGW_SCRIPTS, 'rgw-down.sh')}`);
      return;
    }
    const others = stateDir ? liveLeases(stateDir) : [];
    if (others.length > 0) {
      log(`other test runs (pids ${others.join(', ')}) still use RGW on ${cluster.endpoint}: leaving it running`);
      return;
    }
    const down = await run('bash', [join(RGW_SCRIPTS, 'rgw-down.sh')], 60_000, { ...process.env, ...cluster.env });
    if (down.code !== 0) log(`rgw-down.sh failed (exit ${down.code}):\n${down.output}`);
    else if (cluster.stateDir !== STATE_DIR) rmSync(`${cluster.stateDir}.lock`, { force: true }); // a private cluster leaves nothing
  };
}

async function useExternal(endpoint: string): Promise<TestS3Config> {
  const accessKeyId = process.env.DISKLESS_TEST_S3_ACCESS_KEY;
  const secretAccessKey = process.env.DISKLESS_TEST_S3_SECRET_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(
      'DISKLESS_TEST_S3_ENDPOINT is set, so DISKLESS_TEST_S3_ACCESS_KEY and DISKLESS_TEST_S3_SECRET_KEY must be set too.',
    );
  }
  const result = await probe(endpoint, { accessKeyId, secretAccessKey });
  if (result.kind !== 'ok') {
    const why = result.kind === 'down' ? 'does not answer' : `rejects the keys (${result.message})`;
    throw new Error(`DISKLESS_TEST_S3_ENDPOINT=${endpoint} ${why}: ListBuckets failed.`);
  }
  return {
    source: 'env',
    endpoint,
    region: REGION,
    accessKeyId,
    secretAccessKey,
    otherAccessKeyId: process.env.DISKLESS_TEST_S3_OTHER_ACCESS_KEY || null,
    otherSecretAccessKey: process.env.DISKLESS_TEST_S3_OTHER_SECRET_KEY || null,
    stateDir: null,
    canStartGateways: false,
  };
}

/** Where a cluster of rgw-up.sh lives, and the environment that tells the scripts so. */
interface Cluster {
  endpoint: string;
  stateDir: string;
  env: Record<string, string>;
}

/** The marker rgw-up.sh leaves in its state dir. */
export const MARKER = '.diskless-rgw';

/** A cluster of this run only, on free ports, when 127.0.0.1:RGW_PORT is taken by a server the scripts did not start. */
async function privateCluster(): Promise<Cluster> {
  const rgw = await freePort();
  const mon = await freePortPair();
  const osd = await freeRange(30);
  const stateDir = `${STATE_DIR}-private-${process.pid}`;
  return {
    endpoint: `http://127.0.0.1:${rgw}`,
    stateDir,
    env: {
      DISKLESS_RGW_DIR: stateDir,
      RGW_PORT: String(rgw),
      MON_PORT: String(mon),
      OSD_PORT_MIN: String(osd),
      OSD_PORT_MAX: String(osd + 29),
    },
  };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Two consecutive free ports (a mon listens on MON_PORT and MON_PORT+1). */
async function freePortPair(): Promise<number> {
  return freeRange(2);
}

/** The first of `n` consecutive free ports in 20000-32000 (below Linux's ephemeral range). */
async function freeRange(n: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n));
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portIsFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports found in 20000-32000 for a private RGW`);
}

/** Starts the cluster with rgw-up.sh; returns 'reused' if a concurrent run started it first. */
async function startCluster(cluster: Cluster): Promise<'started' | 'reused'> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `No S3 test server of this project's scripts on ${cluster.endpoint}, and the end-to-end tests can only start one (Ceph RGW) as root. ` +
        `Run the tests as root (e.g. sudo -E npm test), with the Ceph packages installed: ${INSTALL_COMMAND}. ` +
        `Or set DISKLESS_TEST_S3_ENDPOINT (+ DISKLESS_TEST_S3_ACCESS_KEY, DISKLESS_TEST_S3_SECRET_KEY) to use another S3 server.`,
    );
  }
  const upLog = `${cluster.stateDir}-up.${process.pid}.log`;
  log(`starting Ceph RGW on ${cluster.endpoint} with scripts/rgw/rgw-up.sh (about 15 s, log ${upLog})`);
  const started = Date.now();
  const env = { ...process.env, ...cluster.env };
  const up = await runToFile('bash', [join(RGW_SCRIPTS, 'rgw-up.sh')], upLog, RGW_UP_TIMEOUT_MS, env);
  if (up.code === EXIT_ALREADY_RUNNING) {
    // Another test run started the same cluster a moment ago: wait until it answers and share it.
    log('another run is starting the cluster: waiting for it');
    if (await waitUntilAnswers(cluster.endpoint, 180_000)) {
      rmSync(upLog, { force: true });
      return 'reused';
    }
  }
  if (up.code !== 0) {
    if (up.timedOut) {
      // rgw-up.sh cleans up after its own failures, but not after SIGKILL: stop what it started, keep the logs.
      await run('bash', [join(RGW_SCRIPTS, 'rgw-down.sh')], 60_000, { ...env, KEEP: '1' });
    }
    const tail = readTail(upLog, 40);
    const hint =
      up.code === EXIT_PREREQ
        ? `The end-to-end tests need root and the Ceph packages: ${INSTALL_COMMAND}. `
        : `If the Ceph packages are missing: ${INSTALL_COMMAND} (tests must run as root). `;
    throw new Error(
      `Could not start the S3 test server (scripts/rgw/rgw-up.sh ${up.timedOut ? 'timed out' : `exited with ${up.code}`}). ` +
        `${hint}Log: ${upLog}; last lines:\n${tail}`,
    );
  }
  if (!(await waitUntilAnswers(cluster.endpoint, 30_000))) {
    throw new Error(`rgw-up.sh succeeded but ${cluster.endpoint} does not accept the test keys; log: ${upLog}`);
  }
  log(`RGW up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    renameSync(upLog, join(cluster.stateDir, 'log', 'rgw-up.log'));
  } catch {
    // Keep it where it is.
  }
  return 'started';
}

async function waitUntilAnswers(endpoint: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probe(endpoint, TEST_KEYS)).kind === 'ok') return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

type ProbeResult = { kind: 'ok' } | { kind: 'down' } | { kind: 'rejected'; message: string };

/** ListBuckets with short timeouts: 'down' when nothing listens (or it hangs), 'rejected' when it answers with an error. */
async function probe(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<ProbeResult> {
  const client = new S3Client({
    endpoint,
    region: REGION,
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true }),
  });
  try {
    await client.send(new ListBucketsCommand({}));
    return { kind: 'ok' };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    if (e.$metadata?.httpStatusCode === undefined) {
      // No HTTP answer: connection refused, reset or timed out.
      return { kind: 'down' };
    }
    return { kind: 'rejected', message: `HTTP ${e.$metadata.httpStatusCode} ${e.name ?? ''}: ${e.message ?? ''}`.trim() };
  } finally {
    client.destroy();
  }
}

/**
 * `dir` if it is the state dir of an rgw-up.sh cluster whose main gateway serves `port`: the marker, a ceph.conf
 * naming the port and a live radosgw. Only such a server is reused, and only its dir lets rgw-gateway.sh add gateways.
 */
export function projectStateDir(dir: string, port: number): string | null {
  try {
    if (!existsSync(join(dir, MARKER))) return null;
    const conf = readFileSync(join(dir, 'ceph.conf'), 'utf8');
    if (!conf.includes(`endpoint=127.0.0.1:${port}`)) return null;
    const pid = Number(readFileSync(join(dir, 'run', 'ceph-client.rgw.a.pid'), 'utf8').trim());
    return pid > 0 && isAlive(pid) ? dir : null;
  } catch {
    return null;
  }
}


// Leases: each test run using the local cluster drops <stateDir>/clients/<pid>, so the run that started the cluster
// does not stop it under another run that reused it meanwhile (several engineers share one machine).
function takeLease(stateDir: string): { release(): void } {
  const dir = join(stateDir, 'clients');
  const file = join(dir, String(process.pid));
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${new Date().toISOString()}\n`);
  } catch {
    // The cluster's dir is gone or read-only: nothing to protect.
  }
  return { release: () => rmSync(file, { force: true }) };
}

function liveLeases(stateDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir, 'clients'));
  } catch {
    return [];
  }
  return names.map(Number).filter((pid) => pid > 0 && pid !== process.pid && isAlive(pid));
}

interface RunResult {
  code: number | null;
  output: string;
  timedOut: boolean;
}

function run(cmd: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', env }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : 1) : 0,
        output: `${stdout}${stderr}`,
        timedOut: Boolean(e?.killed),
      });
    });
  });
}

/** Runs cmd with stdout and stderr appended to logFile (truncated first). */
function runToFile(cmd: string, args: string[], logFile: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  const fd = openSync(logFile, 'w');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let finished = false;
    const done = (code: number | null): void => {
      if (finished) return; // 'error' and 'close' can both fire
      finished = true;
      clearTimeout(timer);
      closeSync(fd);
      resolve({ code, output: '', timedOut });
    };
    child.on('error', () => done(127));
    child.on('close', (code) => done(code));
  });
}

function readTail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
