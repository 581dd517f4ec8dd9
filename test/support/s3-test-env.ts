// Helpers for end-to-end tests against the real S3 test server found or started by test/setup/global-rgw.ts.
// Nothing here registers global hooks: tests create what they need and clean up what they must.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type MultipartUpload,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { inject } from 'vitest';
import type { TestS3Config } from '../setup/global-rgw.js';
import { isAlive } from '../../src/process/is-alive.js';

export type { TestS3Config };

const GATEWAY_SCRIPT = fileURLToPath(new URL('../../scripts/rgw/rgw-gateway.sh', import.meta.url));
/** Ports reserved for extra gateways (see docs of the test setup); the main gateway is on 19001. */
export const EXTRA_GATEWAY_PORTS = { first: 19050, last: 19059 } as const;

/** Coordinates of the S3 test server of this run. */
export function testS3(): TestS3Config {
  return inject('s3');
}

export interface TestClientOptions {
  /** Defaults to the test server; pass an extra gateway's endpoint to talk to it. */
  endpoint?: string;
  /** 'other' = the second user, who owns none of the first user's buckets. */
  user?: 'test' | 'other';
  /** SDK attempts per call (default 2: one retry, so a dead server fails fast). */
  maxAttempts?: number;
  /** TCP connect timeout (default 3 s). */
  connectionTimeoutMs?: number;
  /** Socket idle timeout (default 30 s): a hung server fails the call instead of hanging the test. */
  idleTimeoutMs?: number;
  /** Whole-request timeout, off by default (large uploads legitimately take long); throws a TimeoutError. */
  requestTimeoutMs?: number;
}

/** S3Client set up for RGW: path style, WHEN_REQUIRED checksums (RGW rejects aws-chunked trailers), short timeouts. */
export function makeTestClient(opts: TestClientOptions = {}): S3Client {
  const s3 = testS3();
  const credentials = opts.user === 'other' ? otherCredentials(s3) : { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  return new S3Client({
    endpoint: opts.endpoint ?? s3.endpoint,
    region: s3.region,
    credentials,
    forcePathStyle: true,
    maxAttempts: opts.maxAttempts ?? 2,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: opts.connectionTimeoutMs ?? 3_000,
      socketTimeout: opts.idleTimeoutMs ?? 30_000,
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeout: opts.requestTimeoutMs, throwOnRequestTimeout: true } : {}),
    }),
  });
}

function otherCredentials(s3: TestS3Config): { accessKeyId: string; secretAccessKey: string } {
  if (!s3.otherAccessKeyId || !s3.otherSecretAccessKey) {
    throw new Error(
      'This test needs a second S3 user: set DISKLESS_TEST_S3_OTHER_ACCESS_KEY and DISKLESS_TEST_S3_OTHER_SECRET_KEY ' +
        '(the local RGW of scripts/rgw/rgw-up.sh has one built in).',
    );
  }
  return { accessKeyId: s3.otherAccessKeyId, secretAccessKey: s3.otherSecretAccessKey };
}

let defaultClient: S3Client | undefined;
function client(c?: S3Client): S3Client {
  return c ?? (defaultClient ??= makeTestClient());
}

/** Creates a bucket with a unique name `t-<prefix>-<random>` owned by the first user; returns the name. */
export async function createTestBucket(prefix: string, s3Client?: S3Client): Promise<string> {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'x';
  const name = `t-${clean}-${randomBytes(5).toString('hex')}`;
  await client(s3Client).send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Every multipart upload still open in the bucket (all pages). */
export async function listOpenUploads(bucket: string, s3Client?: S3Client): Promise<MultipartUpload[]> {
  const uploads: MultipartUpload[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const page = await client(s3Client).send(new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker, UploadIdMarker }));
    uploads.push(...(page.Uploads ?? []));
    if (!page.IsTruncated) return uploads;
    if (!page.NextKeyMarker && !page.NextUploadIdMarker) throw new Error(`ListMultipartUploads on ${bucket}: truncated without markers`);
    KeyMarker = page.NextKeyMarker;
    UploadIdMarker = page.NextUploadIdMarker;
  }
}

/** Every key in the bucket, optionally under a prefix (all pages, in S3 order). */
export async function listKeys(
  bucket: string,
  prefix?: string,
  opts: { pageSize?: number; client?: S3Client } = {},
): Promise<string[]> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  for (;;) {
    const page = await client(opts.client).send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken, MaxKeys: opts.pageSize }),
    );
    for (const o of page.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
    if (!page.IsTruncated) return keys;
    if (!page.NextContinuationToken) throw new Error(`ListObjectsV2 on ${bucket}: truncated without a continuation token`);
    ContinuationToken = page.NextContinuationToken;
  }
}

let isolatedHome: string | undefined;
const HOME_PREFIX = 'diskless-test-home-';
/**
 * One empty HOME per test process, so no child ever reads the user's ~/.aws or XDG config. Vitest may end its
 * workers without an 'exit' event, so the dirs of dead processes are also swept here.
 */
function isolatedHomeDir(): string {
  if (!isolatedHome) {
    for (const name of readdirSync(tmpdir())) {
      const pid = Number(name.startsWith(HOME_PREFIX) ? name.slice(HOME_PREFIX.length) : NaN);
      if (pid > 0 && pid !== process.pid && !isAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
    const dir = join(tmpdir(), `${HOME_PREFIX}${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    for (const sub of ['.config', '.cache', '.local/share', '.local/state']) mkdirSync(join(dir, sub), { recursive: true });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    isolatedHome = dir;
  }
  return isolatedHome;
}


/**
 * Environment for a child `diskless` process: this process's environment without any AWS_* variable, plus the test
 * user's keys, the region, no EC2 metadata lookups and an isolated HOME/XDG. AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE point to files that do not exist. The endpoint is not included (pass it on the command
 * line), nor AWS_REQUEST_CHECKSUM_CALCULATION: the CLI must choose WHEN_REQUIRED by itself, and the tests should see it.
 */
export function cliEnv(s3: TestS3Config = testS3(), opts: { user?: 'test' | 'other' } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
  const home = isolatedHomeDir();
  const keys = opts.user === 'other' ? otherCredentials(s3) : { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_DATA_HOME: join(home, '.local/share'),
    XDG_STATE_HOME: join(home, '.local/state'),
    AWS_CONFIG_FILE: join(home, 'no-such-dir', 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-such-dir', 'credentials'),
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

export interface ExtraGateway {
  /** Daemon name (client.rgw.<name>): the requested name plus this process's pid, so parallel runs do not collide. */
  readonly name: string;
  readonly port: number;
  readonly endpoint: string;
  /**
   * SIGSTOP: connections are accepted by the kernel but never answered (the hang case). Keep pauses short: while a
   * gateway is paused, metadata writes on EVERY gateway of the cluster (CreateBucket, bucket ACL/policy/versioning/
   * lifecycle changes) wait for it, until resume() or until the OSD drops its watches (about 30 s). Object reads and
   * writes, multipart uploads included, are not affected. kill() and stop() do not have this effect.
   */
  pause(): Promise<void>;
  /** SIGCONT after pause(). */
  resume(): Promise<void>;
  /** SIGKILL: new connections are refused (the crash case). */
  kill(): Promise<void>;
  /** SIGTERM (SIGKILL after 5 s), removes its key; works after kill() or pause() too, and twice. */
  stop(): Promise<void>;
}

/**
 * Starts an extra radosgw against the local cluster, so a test can pause or kill "its" S3 server without disturbing
 * the main gateway other tests share. Without a port, the first free one of 19050-19059 is used.
 * Always stop() it (afterAll or finally).
 */
export async function startExtraGateway(name: string, port?: number): Promise<ExtraGateway> {
  const s3 = testS3();
  if (!s3.canStartGateways || !s3.stateDir) {
    throw new Error(
      `Extra gateways need the local Ceph cluster of scripts/rgw/rgw-up.sh, run as root; this run uses ${s3.endpoint} ` +
        `(${s3.source === 'env' ? 'DISKLESS_TEST_S3_ENDPOINT' : 'a server whose state dir is unknown'}). ` +
        'Unset DISKLESS_TEST_S3_ENDPOINT and run the tests as root.',
    );
  }
  const stateDir = s3.stateDir;
  const fullName = `${name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').slice(0, 30)}-${process.pid}`;
  const gateway = (action: string, ...args: string[]): Promise<string> => runGatewayScript(stateDir, action, fullName, ...args);
  const { first, last } = EXTRA_GATEWAY_PORTS;
  const candidates = port !== undefined ? [port] : Array.from({ length: last - first + 1 }, (_, i) => first + i);
  let lastError: unknown;
  for (const p of candidates) {
    try {
      await gateway('start', String(p));
    } catch (err) {
      lastError = err;
      if ((err as GatewayScriptError).exitCode === PORT_BUSY) continue;
      throw err;
    }
    return {
      name: fullName,
      port: p,
      endpoint: `http://127.0.0.1:${p}`,
      pause: async () => void (await gateway('pause')),
      resume: async () => void (await gateway('resume')),
      kill: async () => void (await gateway('kill')),
      stop: async () => void (await gateway('stop')),
    };
  }
  throw new Error(`No free port for an extra gateway among ${candidates.join(', ')}`, { cause: lastError });
}

/** rgw-gateway.sh exit code when the port is taken. */
const PORT_BUSY = 3;

interface GatewayScriptError extends Error {
  exitCode: number | null;
}

function runGatewayScript(stateDir: string, action: string, name: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [GATEWAY_SCRIPT, action, name, ...args],
      { env: { ...process.env, DISKLESS_RGW_DIR: stateDir }, timeout: 90_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
        const e = new Error(`rgw-gateway.sh ${action} ${name} ${args.join(' ')} failed (exit ${code ?? 'signal/timeout'}):\n${stderr}${stdout}`) as GatewayScriptError;
        e.exitCode = code;
        reject(e);
      },
    );
  });
}

/**
 * Deletes every object and aborts every upload in a test bucket (or only those under `prefix`), best effort and
 * bounded (the shared test cluster is small: tests that write hundreds of MiB give the space back). Errors are
 * ignored: the data is only test data.
 */
export async function emptyTestBucket(bucket: string, { prefix, timeoutMs = 60_000 }: { prefix?: string; timeoutMs?: number } = {}): Promise<void> {
  const c = makeTestClient({ maxAttempts: 1, idleTimeoutMs: 10_000 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (const key of await listKeys(bucket, prefix, { client: c })) {
      if (Date.now() > deadline) return;
      await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    }
    for (const u of await listOpenUploads(bucket, c)) {
      if (prefix !== undefined && !u.Key?.startsWith(prefix)) continue;
      if (Date.now() > deadline) return;
      await c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
  } catch {
    // best effort
  } finally {
    c.destroy();
  }
}
