import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { shimPath } from '../../src/native/shim-path.js';
import { encodeFrame, takeFrame, type AnyMessage, type MessageName } from '../../src/wire/frame-codec.js';
import { WIRE_ENV_DIR, WIRE_ENV_LOG, WIRE_ENV_SOCKET, WIRE_ENV_STANDIN, WIRE_ENV_TOKEN } from '../../src/wire/wire.generated.js';

/**
 * An in-process stand-in for the diskless uploader, for tests of the LD_PRELOAD shim: it speaks the
 * wire protocol of native/wire/wire.def on a Unix socket and keeps "objects" in memory.
 *
 * Semantics (what the real uploader is expected to do, in miniature):
 *  - OPEN: EEXIST for O_EXCL on an existing object, EPERM for O_APPEND to an existing object,
 *    ENOENT without O_CREAT for a missing one; otherwise REPLY 0, then the raw bytes until EOF, then
 *    RESULT (0 and the object stored, or the injected failure) and close.
 *  - RENAME: waits until the source's upload has ended, then moves it (ENOENT if missing).
 *  - UNLINK: deletes (ENOENT if missing). STAT: size and mtime of a stored object, or of one being
 *    written (its bytes so far); ENOENT otherwise.
 *  - A wrong token gets EACCES; a path that is not normalised gets EINVAL; a malformed frame closes
 *    the connection and is counted in `malformedFrames`.
 */

const { errno } = os.constants;
const O_ACCMODE = 0o3;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_APPEND = 0o2000;

export interface StoredFile {
  data: Buffer;
  committed: boolean;
  size: number;
  /** Nanoseconds since the epoch (millisecond precision). */
  mtimeNs: bigint;
}

/** Per-path behaviour, for failure injection. */
export interface PathBehaviour {
  /** Answer OPEN with this errno. */
  refuseOpen?: number;
  /** Answer RESULT with this errno (the object is not stored). */
  failResult?: number;
  /** Close the connection at EOF without sending RESULT (the shim must report EIO). */
  dropAtEof?: boolean;
  /** Wait this long after EOF before sending RESULT. */
  resultDelayMs?: number;
}

export type RequestRecord =
  | { type: 'OPEN'; path: string; flags: number; mode: number; pid: number }
  | { type: 'RENAME'; from: string; to: string }
  | { type: 'UNLINK'; path: string }
  | { type: 'STAT'; path: string }
  | { type: 'FAIL'; path: string; message: string }
  | { type: 'RENAME_DIR'; from: string; to: string };

interface Upload {
  path: string;
  chunks: Buffer[];
  size: number;
  done: Promise<void>;
  finish: () => void;
}

export class FakeUploader {
  /** Stored objects by path relative to the virtual directory. */
  readonly files = new Map<string, StoredFile>();
  /** Every well-formed request with a valid token, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Connections accepted so far. */
  connections = 0;
  /** Frames that broke the protocol (each closed its connection). */
  malformedFrames = 0;
  /** Requests with a wrong token (answered EACCES). */
  badTokens = 0;

  private readonly behaviours = new Map<string, PathBehaviour>();
  private readonly uploads = new Map<string, Upload>();
  private readonly open = new Set<net.Socket>();
  private idleWaiters: Array<() => void> = [];

  private constructor(
    /** Private 0700 directory holding the socket and the virtual directory. */
    readonly root: string,
    readonly socketPath: string,
    /** The virtual directory (a real, empty directory) to give the shim as DISKLESS_DIR. */
    readonly vdir: string,
    readonly token: string,
    private readonly server: net.Server,
  ) {}

  static async start(options: { token?: string } = {}): Promise<FakeUploader> {
    const root = mkdtempSync(path.join(os.tmpdir(), 'diskless-fake-'));
    chmodSync(root, 0o700);
    const vdir = path.join(root, 'vdir');
    mkdirSync(vdir);
    mkdirSync(path.join(root, 'stand-in'), { mode: 0o700 });
    const socketPath = path.join(root, 'uploader.sock');
    const token = options.token ?? randomBytes(32).toString('hex');
    const server = net.createServer({ allowHalfOpen: true });
    const fake = new FakeUploader(root, socketPath, vdir, token, server);
    server.on('connection', (socket) => fake.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return fake;
  }

  /** Sets the behaviour for one path (relative to the virtual directory). */
  behave(file: string, behaviour: PathBehaviour): void {
    this.behaviours.set(file, behaviour);
  }

  /**
   * Environment for a child process under the shim: the current environment without any diskless
   * variable, plus LD_PRELOAD (the shim first), DISKLESS_SOCKET, DISKLESS_DIR, DISKLESS_TOKEN.
   */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const base = withoutDisklessEnv(process.env);
    const preload = base['LD_PRELOAD'] ? `${shimPath()}:${base['LD_PRELOAD']}` : shimPath();
    return {
      ...base,
      LD_PRELOAD: preload,
      [WIRE_ENV_SOCKET]: this.socketPath,
      [WIRE_ENV_DIR]: this.vdir,
      [WIRE_ENV_TOKEN]: this.token,
      [WIRE_ENV_STANDIN]: path.join(this.root, 'stand-in'),
      ...extra,
    };
  }

  /** The stored object's bytes as text (throws if missing). */
  text(file: string): string {
    const f = this.files.get(file);
    if (!f) throw new Error(`no object ${JSON.stringify(file)}; have ${JSON.stringify([...this.files.keys()])}`);
    return f.data.toString('utf8');
  }

  /** Resolves when no connection is open (every file's EOF has been handled). */
  async settled(timeoutMs = 10_000): Promise<void> {
    if (this.open.size === 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake uploader: ${this.open.size} connections still open`)), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.open) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.root, { recursive: true, force: true });
  }

  private onConnection(socket: net.Socket): void {
    this.connections++;
    this.open.add(socket);
    socket.on('close', () => {
      this.open.delete(socket);
      if (this.open.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
    socket.on('error', () => socket.destroy());

    let buffered = Buffer.alloc(0);
    let upload: Upload | undefined;
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (upload) {
        upload.chunks.push(chunk);
        upload.size += chunk.length;
        return;
      }
      if (answered) return this.malformed(socket); // nothing may follow a request
      buffered = Buffer.concat([buffered, chunk]);
      let taken: ReturnType<typeof takeFrame>;
      try {
        taken = takeFrame(buffered);
      } catch {
        return this.malformed(socket);
      }
      if (!taken) return;
      answered = true;
      const started = this.handle(socket, taken.message);
      if (started) {
        upload = started;
        if (taken.rest.length > 0) {
          upload.chunks.push(Buffer.from(taken.rest));
          upload.size += taken.rest.length;
        }
      } else if (taken.rest.length > 0) {
        this.malformed(socket);
      }
    });
    socket.on('end', () => {
      if (upload) void this.finishUpload(socket, upload);
      else if (!answered && buffered.length > 0) this.malformed(socket);
      else if (!answered) socket.end();
    });
  }

  private malformed(socket: net.Socket): void {
    this.malformedFrames++;
    socket.destroy();
  }

  private reply(socket: net.Socket, err: number, message = ''): void {
    socket.end(encodeFrame('REPLY', { err, message }));
  }

  /** Handles the first frame; returns the upload if the connection now carries a file. */
  private handle(socket: net.Socket, msg: AnyMessage): Upload | undefined {
    if (!isRequest(msg.name)) {
      this.malformed(socket);
      return undefined;
    }
    const fields = msg.fields as { token: Buffer } & Record<string, Buffer | number>;
    if (fields.token.toString('utf8') !== this.token) {
      this.badTokens++;
      if (msg.name === 'STAT') socket.end(encodeFrame('STAT_REPLY', { err: errno.EACCES, size: 0, mtime_ns: 0, message: 'bad token' }));
      else this.reply(socket, errno.EACCES, 'bad token');
      return undefined;
    }
    const paths = ['path', 'from', 'to'].filter((k) => k in fields).map((k) => (fields[k] as Buffer).toString('utf8'));
    if (!paths.every(isNormalised)) {
      if (msg.name === 'STAT') socket.end(encodeFrame('STAT_REPLY', { err: errno.EINVAL, size: 0, mtime_ns: 0, message: 'bad path' }));
      else this.reply(socket, errno.EINVAL, `path not normalised: ${paths.join(', ')}`);
      return undefined;
    }
    switch (msg.name) {
      case 'OPEN':
        return this.onOpen(socket, paths[0] as string, msg.fields.flags, msg.fields.mode, msg.fields.pid);
      case 'RENAME':
        void this.onRename(socket, paths[0] as string, paths[1] as string);
        return undefined;
      case 'UNLINK': {
        const file = paths[0] as string;
        this.requests.push({ type: 'UNLINK', path: file });
        this.reply(socket, this.files.delete(file) ? 0 : errno.ENOENT);
        return undefined;
      }
      case 'FAIL': {
        this.requests.push({ type: 'FAIL', path: paths[0] as string, message: (fields['message'] as Buffer).toString('utf8') });
        this.reply(socket, 0);
        return undefined;
      }
      case 'RENAME_DIR': {
        const [from, to] = paths as [string, string];
        this.requests.push({ type: 'RENAME_DIR', from, to });
        for (const [p, f] of [...this.files]) {
          if (!p.startsWith(from + '/')) continue;
          this.files.delete(p);
          this.files.set(to + p.slice(from.length), f);
        }
        this.reply(socket, 0);
        return undefined;
      }
      case 'STAT': {
        const file = paths[0] as string;
        this.requests.push({ type: 'STAT', path: file });
        const stored = this.files.get(file);
        const inFlight = this.uploads.get(file);
        const size = stored?.size ?? inFlight?.size;
        const mtimeNs = stored?.mtimeNs ?? nowNs();
        socket.end(
          encodeFrame('STAT_REPLY', {
            err: size === undefined ? errno.ENOENT : 0,
            size: size ?? 0,
            mtime_ns: size === undefined ? 0n : mtimeNs,
            message: '',
          }),
        );
        return undefined;
      }
    }
    return undefined;
  }

  private onOpen(socket: net.Socket, file: string, flags: number, mode: number, pid: number): Upload | undefined {
    this.requests.push({ type: 'OPEN', path: file, flags, mode, pid });
    const behaviour = this.behaviours.get(file) ?? {};
    const exists = this.files.has(file) || this.uploads.has(file);
    let err = behaviour.refuseOpen ?? 0;
    if (!err && exists && flags & O_EXCL) err = errno.EEXIST;
    else if (!err && exists && flags & O_APPEND) err = errno.EPERM;
    else if (!err && !exists && !(flags & O_CREAT)) err = errno.ENOENT;
    else if (!err && (flags & O_ACCMODE) === 0 && !(flags & O_CREAT)) err = errno.EINVAL;
    if (err) {
      this.reply(socket, err, 'refused by the fake uploader');
      return undefined;
    }
    socket.write(encodeFrame('REPLY', { err: 0, message: '' }));
    let finish = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const upload: Upload = { path: file, chunks: [], size: 0, done, finish };
    this.uploads.set(file, upload);
    return upload;
  }

  private async finishUpload(socket: net.Socket, upload: Upload): Promise<void> {
    const behaviour = this.behaviours.get(upload.path) ?? {};
    if (behaviour.resultDelayMs) await new Promise((r) => setTimeout(r, behaviour.resultDelayMs));
    if (this.uploads.get(upload.path) === upload) this.uploads.delete(upload.path);
    const data = Buffer.concat(upload.chunks);
    if (behaviour.dropAtEof) {
      socket.destroy();
    } else if (behaviour.failResult) {
      socket.end(encodeFrame('RESULT', { err: behaviour.failResult, size: data.length, message: 'injected upload failure' }));
    } else {
      this.files.set(upload.path, { data, committed: true, size: data.length, mtimeNs: nowNs() });
      socket.end(encodeFrame('RESULT', { err: 0, size: data.length, message: '' }));
    }
    upload.finish();
  }

  private async onRename(socket: net.Socket, from: string, to: string): Promise<void> {
    this.requests.push({ type: 'RENAME', from, to });
    // A rename takes effect after the source's upload has ended (mydumper renames right after fclose).
    await this.uploads.get(from)?.done;
    const stored = this.files.get(from);
    if (!stored) return this.reply(socket, errno.ENOENT);
    this.files.delete(from);
    this.files.set(to, stored);
    this.reply(socket, 0);
  }
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function isRequest(name: MessageName): name is 'OPEN' | 'RENAME' | 'UNLINK' | 'STAT' | 'FAIL' | 'RENAME_DIR' {
  return name === 'OPEN' || name === 'RENAME' || name === 'UNLINK' || name === 'STAT' || name === 'FAIL' || name === 'RENAME_DIR';
}

/** wire.def: no leading '/', no '.', '..' or empty segments. */
function isNormalised(p: string): boolean {
  return p.length > 0 && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** process.env without any variable that would activate the shim, and without LD_PRELOAD of it. */
export function withoutDisklessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const key of [WIRE_ENV_SOCKET, WIRE_ENV_DIR, WIRE_ENV_TOKEN, WIRE_ENV_LOG, WIRE_ENV_STANDIN]) delete out[key];
  return out;
}
