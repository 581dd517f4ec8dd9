import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IngestServer } from '../../src/ingest/ingest-server.js';
import { VirtualFiles, type VirtualFile } from '../../src/ingest/virtual-files.js';
import { MANIFEST_NAME } from '../../src/manifest/manifest.js';
import { preloadEnv } from '../../src/native/preload-env.js';
import { shimPath } from '../../src/native/shim-path.js';
import { planParts, type PartPlan } from '../../src/upload/part-planner.js';
import { MiB } from '../../src/util/size.js';
import { WIRE_ENV_DIR, WIRE_ENV_LOG, WIRE_ENV_RANDOM_LIMIT, WIRE_ENV_READ, WIRE_ENV_READ_SOCKET, WIRE_ENV_SOCKET, WIRE_ENV_STANDIN, WIRE_ENV_TOKEN } from '../../src/wire/wire.generated.js';
import { MemoryObjectStore } from '../fakes/memory-object-store.js';
import { testContext } from './uploader.js';

/**
 * The real uploader in this process, for the shim's behaviour tests: an IngestServer and its
 * VirtualFiles (src/ingest/) on a private socket, storing into a MemoryObjectStore (inject failures
 * there: `store.failNext('put', …)`, `store.delayMs.put = …`). `env()` is the environment `diskless run`
 * gives its command (src/native/preload-env.ts), with the virtual directory in a temporary directory.
 */

export const SHIM_BUCKET = 'shim-tests';
export const SHIM_PREFIX = 'run/';

/** What the server asked of the registry of virtual files, in arrival order (one entry per request of the shim). */
export type RegistryCall =
  | { type: 'OPEN'; path: string; flags: number }
  | { type: 'RENAME'; from: string; to: string }
  | { type: 'RENAME_DIR'; from: string; to: string }
  | { type: 'UNLINK'; path: string }
  | { type: 'STAT'; path: string }
  | { type: 'FAIL'; path: string; message: string }
  | { type: 'END'; how: number };

/** The real VirtualFiles, recording each call the ingest server makes on it. */
class RecordingFiles extends VirtualFiles {
  readonly calls: RegistryCall[] = [];

  override openForWrite(p: Buffer | string, flags: number): Promise<VirtualFile> {
    this.calls.push({ type: 'OPEN', path: p.toString(), flags });
    return super.openForWrite(p, flags);
  }
  override rename(from: string, to: string): Promise<void> {
    this.calls.push({ type: 'RENAME', from, to });
    return super.rename(from, to);
  }
  override renameDir(from: string, to: string): Promise<void> {
    this.calls.push({ type: 'RENAME_DIR', from, to });
    return super.renameDir(from, to);
  }
  override unlink(p: string): Promise<void> {
    this.calls.push({ type: 'UNLINK', path: p });
    return super.unlink(p);
  }
  override stat(p: string): { size: number; mtimeMs: number } {
    this.calls.push({ type: 'STAT', path: p });
    return super.stat(p);
  }
  override refusal(p: string, message: string): VirtualFile {
    this.calls.push({ type: 'FAIL', path: p, message });
    return super.refusal(p, message);
  }
  override markEnd(id: bigint, how: number): void {
    this.calls.push({ type: 'END', how });
    super.markEnd(id, how);
  }
}

export interface ShimHarnessOptions {
  store?: MemoryObjectStore;
  /** Part plan of every file (default: 5 MiB parts, so a file over 5 MiB is a multipart upload). */
  plan?: PartPlan;
}

export class ShimHarness {
  private constructor(
    readonly store: MemoryObjectStore,
    private readonly registry: RecordingFiles,
    readonly server: IngestServer,
    /** Private temporary directory holding the virtual directory (and room for local ones). */
    readonly root: string,
    /** The virtual directory (real, canonical, empty of files). */
    readonly vdir: string,
    readonly token: string,
  ) {}

  static async start(options: ShimHarnessOptions = {}): Promise<ShimHarness> {
    const store = options.store ?? new MemoryObjectStore();
    const ctx = testContext(store);
    const files = new RecordingFiles({ store, bucket: SHIM_BUCKET, prefix: SHIM_PREFIX, settings: {}, retry: ctx.retry, log: ctx.log, reserved: [MANIFEST_NAME] });
    const token = randomBytes(32).toString('hex');
    const server = await IngestServer.listen({
      files,
      ctx,
      plan: options.plan ?? planParts({ partSize: 5 * MiB }),
      bucket: SHIM_BUCKET,
      settings: {},
      signal: new AbortController().signal,
      token,
      onFailure: () => {},
    });
    const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'diskless-shim-harness-')));
    const vdir = path.join(root, 'vdir');
    mkdirSync(vdir);
    return new ShimHarness(store, files, server, root, vdir, token);
  }

  /**
   * The environment of a command under the shim, as `diskless run` builds it (preloadEnv), from the
   * current environment without any diskless variable. `dir` names the virtual directory another
   * way (a symlink to it); `vars` are added last.
   */
  env(options: { dir?: string; randomAccessLimit?: number; vars?: NodeJS.ProcessEnv } = {}): NodeJS.ProcessEnv {
    const env = preloadEnv(withoutDisklessEnv(process.env), {
      shim: shimPath(),
      socket: this.server.socketPath,
      readSocket: this.server.readSocketPath,
      dir: options.dir ?? this.vdir,
      token: this.token,
      standin: this.server.standinDir,
      ...(options.randomAccessLimit !== undefined ? { randomAccessLimit: options.randomAccessLimit } : {}),
    });
    return { ...env, ...options.vars };
  }

  /** Every request the shim made, as calls on the registry of virtual files. */
  get calls(): readonly RegistryCall[] {
    return this.registry.calls;
  }

  /** The calls of one type. */
  callsOf<T extends RegistryCall['type']>(type: T): Array<Extract<RegistryCall, { type: T }>> {
    return this.registry.calls.filter((c): c is Extract<RegistryCall, { type: T }> => c.type === type);
  }

  /** No request reached the uploader (nothing recorded, nothing refused). */
  get untouched(): boolean {
    return this.registry.calls.length === 0 && this.server.refused === 0;
  }

  /** The stored object of a virtual file (path relative to the virtual directory), or undefined. */
  object(file: string): Buffer | undefined {
    return this.store.data(SHIM_BUCKET, SHIM_PREFIX + file);
  }

  /** The stored object's bytes as text (throws, naming what is stored, if it is missing). */
  text(file: string): string {
    const data = this.object(file);
    if (!data) throw new Error(`no object for ${JSON.stringify(file)}; stored: ${JSON.stringify(this.storedPaths())}`);
    return data.toString('utf8');
  }

  /** Paths (relative to the virtual directory) of every stored object, sorted. */
  storedPaths(): string[] {
    return this.store.keys(SHIM_BUCKET).map((k) => k.slice(SHIM_PREFIX.length));
  }

  /** The registry's files that exist now, what the manifest would list, in path order. */
  records(): VirtualFile[] {
    return this.registry.list();
  }

  /** The files that could not be stored, as the run's failure summary lists them (src/ops/capture.ts). */
  get failures(): VirtualFile[] {
    return this.registry.failures();
  }

  /** Resolves when no virtual file is being written (every upload committed or failed). */
  async settled(timeoutMs = 20_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const open = this.registry.list().filter((f) => f.state === 'writing').map((f) => f.path);
        reject(new Error(`still being written after ${timeoutMs} ms: ${open.join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.registry.idle(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.server.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** process.env without any variable that would activate the shim. */
export function withoutDisklessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of [WIRE_ENV_SOCKET, WIRE_ENV_READ_SOCKET, WIRE_ENV_READ, WIRE_ENV_DIR, WIRE_ENV_TOKEN, WIRE_ENV_LOG, WIRE_ENV_STANDIN, WIRE_ENV_RANDOM_LIMIT]) delete out[key];
  return out;
}
