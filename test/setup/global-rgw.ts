// Vitest globalSetup: finds or starts the real S3 server (Ceph RGW) that every end-to-end test uses, once per run,
// and hands its coordinates to the tests with project.provide('s3', …) (read them with testS3() from
// test/support/s3-test-env.ts).
//
// Order:
//   1. DISKLESS_TEST_S3_ENDPOINT set: use that server (keys from DISKLESS_TEST_S3_ACCESS_KEY / _SECRET_KEY, optional
//      second user DISKLESS_TEST_S3_OTHER_ACCESS_KEY / _OTHER_SECRET_KEY). Never started or stopped here.
//   2. Something on 127.0.0.1:${RGW_PORT:-19001} accepts the test keys: reuse it, leave it running at teardown.
//   3. Otherwise start a fresh cluster with scripts/rgw/rgw-up.sh and stop it at teardown with rgw-down.sh
//      (DISKLESS_KEEP_RGW=1 keeps it running; so does another test run still using it, see the leases below).
// If the server cannot be started (not root, Ceph packages missing) the whole run fails with the command to run:
// a silently skipped end-to-end suite would hide exactly the bugs it exists to catch.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
// Beside the state dir (rgw-up.sh wipes the dir itself), one per run: concurrent runs may both try to start it.
// Moved into the state dir once the cluster is up.
const UP_LOG = `${STATE_DIR}-up.${process.pid}.log`;
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
  if (found.kind === 'rejected') {
    throw new Error(
      `Something answers on ${LOCAL_ENDPOINT} but rejects the test keys (${found.message}). ` +
        `Stop it (if it is a cluster of scripts/rgw/rgw-up.sh: ${join(RGW_SCRIPTS, 'rgw-down.sh')}), ` +
        `or point the tests at another server with DISKLESS_TEST_S3_ENDPOINT.`,
    );
  }
  let source: 'reused' | 'started';
  if (found.kind === 'ok') {
    source = 'reused';
  } else {
    source = await startCluster();
  }
  const stateDir = localStateDir();
  // A reused server may come from another script (e.g. the brief's recipe) without the second user.
  const hasOther = source === 'started' || (await probe(LOCAL_ENDPOINT, OTHER_KEYS)).kind === 'ok';
  if (!hasOther) log(`the server on ${LOCAL_ENDPOINT} does not know the second user (${OTHER_KEYS.accessKeyId}): tests needing it are skipped`);
  const config: TestS3Config = {
    source,
    endpoint: LOCAL_ENDPOINT,
    region: REGION,
    ...TEST_KEYS,
    otherAccessKeyId: hasOther ? OTHER_KEYS.accessKeyId : null,
    otherSecretAccessKey: hasOther ? OTHER_KEYS.secretAccessKey : null,
    stateDir,
    canStartGateways: stateDir !== null && process.getuid?.() === 0,
  };
  project.provide('s3', config);
  log(
    `${source === 'reused' ? 'reusing the RGW already running' : 'started RGW'} on ${LOCAL_ENDPOINT}` +
      (stateDir ? ` (state ${stateDir})` : ' (state dir unknown: extra gateways disabled)'),
  );
  const lease = stateDir ? takeLease(stateDir) : null;

  return async () => {
    lease?.release();
    if (source !== 'started') return;
    if (process.env.DISKLESS_KEEP_RGW === '1') {
      log(`DISKLESS_KEEP_RGW=1: leaving RGW running on ${LOCAL_ENDPOINT}; stop it with ${join(RGW_SCRIPTS, 'rgw-down.sh')}`);
      return;
    }
    const others = stateDir ? liveLeases(stateDir) : [];
    if (others.length > 0) {
      log(`other test runs (pids ${others.join(', ')}) still use RGW on ${LOCAL_ENDPOINT}: leaving it running`);
      return;
    }
    const down = await run('bash', [join(RGW_SCRIPTS, 'rgw-down.sh')], 60_000);
    if (down.code !== 0) log(`rgw-down.sh failed (exit ${down.code}):\n${down.output}`);
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

/** Starts the cluster with rgw-up.sh; returns 'reused' if a concurrent run started it first. */
async function startCluster(): Promise<'started' | 'reused'> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `No S3 test server on ${LOCAL_ENDPOINT}, and the end-to-end tests can only start one (Ceph RGW) as root. ` +
        `Run the tests as root (e.g. sudo -E npm test), with the Ceph packages installed: ${INSTALL_COMMAND}. ` +
        `Or set DISKLESS_TEST_S3_ENDPOINT (+ DISKLESS_TEST_S3_ACCESS_KEY, DISKLESS_TEST_S3_SECRET_KEY) to use another S3 server.`,
    );
  }
  log(`no S3 server on ${LOCAL_ENDPOINT}: starting Ceph RGW with scripts/rgw/rgw-up.sh (about 15 s, log ${UP_LOG})`);
  const started = Date.now();
  const up = await runToFile('bash', [join(RGW_SCRIPTS, 'rgw-up.sh')], UP_LOG, RGW_UP_TIMEOUT_MS);
  if (up.code === EXIT_ALREADY_RUNNING) {
    // Another test run started the same cluster a moment ago: wait until it answers and share it.
    log('another run is starting the cluster: waiting for it');
    if (await waitUntilAnswers(180_000)) {
      rmSync(UP_LOG, { force: true });
      return 'reused';
    }
  }
  if (up.code !== 0) {
    if (up.timedOut) {
      // rgw-up.sh cleans up after its own failures, but not after SIGKILL: stop what it started, keep the logs.
      await run('bash', [join(RGW_SCRIPTS, 'rgw-down.sh')], 60_000, { ...process.env, KEEP: '1' });
    }
    const tail = readTail(UP_LOG, 40);
    const hint =
      up.code === EXIT_PREREQ
        ? `The end-to-end tests need root and the Ceph packages: ${INSTALL_COMMAND}. `
        : `If the Ceph packages are missing: ${INSTALL_COMMAND} (tests must run as root). `;
    throw new Error(
      `Could not start the S3 test server (scripts/rgw/rgw-up.sh ${up.timedOut ? 'timed out' : `exited with ${up.code}`}). ` +
        `${hint}Log: ${UP_LOG}; last lines:\n${tail}`,
    );
  }
  if (!(await waitUntilAnswers(30_000))) {
    throw new Error(`rgw-up.sh succeeded but ${LOCAL_ENDPOINT} does not accept the test keys; log: ${UP_LOG}`);
  }
  log(`RGW up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    renameSync(UP_LOG, join(STATE_DIR, 'log', 'rgw-up.log'));
  } catch {
    // Keep it where it is.
  }
  return 'started';
}

async function waitUntilAnswers(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probe(LOCAL_ENDPOINT, TEST_KEYS)).kind === 'ok') return true;
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

/** The state dir of rgw-up.sh if the server on RGW_PORT is its main gateway (so rgw-gateway.sh can add gateways). */
function localStateDir(): string | null {
  try {
    const conf = readFileSync(join(STATE_DIR, 'ceph.conf'), 'utf8');
    if (!conf.includes(`endpoint=127.0.0.1:${RGW_PORT}`)) return null;
    const pid = Number(readFileSync(join(STATE_DIR, 'run', 'ceph-client.rgw.a.pid'), 'utf8').trim());
    return pid > 0 && isAlive(pid) ? STATE_DIR : null;
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
function runToFile(cmd: string, args: string[], logFile: string, timeoutMs: number): Promise<RunResult> {
  const fd = openSync(logFile, 'w');
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
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
