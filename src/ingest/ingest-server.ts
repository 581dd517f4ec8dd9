import { timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { peerCredentials, takeQueued, type PeerCredentials } from '../native/process-control.js';
import { isAlive } from '../process/is-alive.js';
import { encodeFrame, takeFrame, WireError, type AnyMessage } from '../wire/frame-codec.js';
import { WIRE_HEADER_SIZE, WIRE_MAX_PAYLOAD } from '../wire/wire.generated.js';
import { Limiter } from '../util/limiter.js';
import type { BackupTree } from './backup-tree.js';
import { serveFile, type FileSessionDeps } from './file-session.js';
import { serveReadBack } from './read-back.js';
import { serveRead, shownSize, type ReadDeps } from './read-session.js';
import { answerAndClose } from './answer-and-close.js';
import { answerRequest } from './request-session.js';

export interface IngestOptions extends FileSessionDeps {
  /** The run's secret; a peer that does not send it is refused. */
  token: string;
  /** Who may connect (default: the same uid as this process). Injected in tests. */
  peerCheck?: (creds: PeerCredentials) => string | undefined;
  /** How long a new connection may take to send its first frame. */
  firstFrameTimeoutMs?: number;
  /**
   * run --from: the backup shown under the directory, which READ_OPEN reads and STAT describes; its names are
   * read-only (OPEN, UNLINK, RENAME and RENAME_DIR touching them are answered EROFS).
   */
  reads?: ReadDeps & { tree: BackupTree };
  /**
   * Reads of files stored earlier in this run (read-back.ts): the GETs in flight for them (default 8), and what a
   * read whose bytes did not check out does (the run fails, naming it).
   */
  readBack?: { requests?: Limiter; onFailure?: (path: string, key: string, error: unknown) => void };
}

/** Ranged GETs in flight across the read-backs of a run, unless the caller says otherwise. */
export const DEFAULT_READ_REQUESTS = 8;

/** Socket directories are `$TMPDIR/diskless-<pid>-XXXXXX`: the pid tells a later run whether the owner is gone. */
const SOCKET_DIR_RE = /^diskless-(\d+)-[A-Za-z0-9]{6}$/;
const SOCKET_NAME = 'ingest.sock';
const READ_SOCKET_NAME = 'read.sock';
/** Bytes of a new connection taken at once (firstFrame): an OPEN, STAT or END, not a RENAME of two long paths (the rest is read as usual). */
const QUEUED_MAX = 8192;

/**
 * The uploader's end of the shim's socket (native/wire/wire.def): a Unix socket in a private 0700
 * directory; every connection is checked (same uid, the run's token). Its first frame decides what it
 * carries: an OPEN, one virtual file written (serveFile); a READ_OPEN, one file read (serveRead,
 * serveReadBack); any other request, requests one after another, each answered before the next
 * (answerRequest), until the peer's EOF. A malformed frame closes its connection and is logged; it
 * never stops the server.
 */
export class IngestServer {
  private readonly sessions = new Set<Promise<void>>();
  private readonly sockets = new Set<Socket>();
  private accepting = true;
  private closing = false;
  private refusedCount = 0;

  private readonly readBackRequests: Limiter;

  private constructor(
    private readonly servers: Server[],
    readonly dir: string,
    readonly socketPath: string,
    /** Where the shim sends READ_OPEN: a connection to it carries a stored file's bytes to the program (wire.def). */
    readonly readSocketPath: string,
    private readonly options: IngestOptions,
  ) {
    this.readBackRequests = options.readBack?.requests ?? new Limiter(DEFAULT_READ_REQUESTS);
  }

  static async listen(options: IngestOptions): Promise<IngestServer> {
    sweepDeadSocketDirs(options.ctx.log);
    const dir = mkdtempSync(join(tmpdir(), `diskless-${process.pid}-`));
    const socketPath = join(dir, SOCKET_NAME);
    const readSocketPath = join(dir, READ_SOCKET_NAME);
    // What a reopen of a stored file gets a descriptor of (the shim's stand-in, docs/SHIM.md).
    mkdirSync(join(dir, 'stand-in'), { mode: 0o700 });
    // Two sockets, one handler: the shim tells a read descriptor from a written one by its peer address.
    // highWaterMark 0: Node reads a connection only when nothing it read is left unconsumed. A program's last
    // close usually leaves the HANDLE unread, which the kernel reports as ECONNRESET, and Node drops what it had
    // buffered when that error comes: with read-ahead, the tail of a file (all of a small one) was lost whenever
    // the upload was not pulling at that moment (waiting for --memory, or for the encryptor), and stored short.
    // pauseOnConnect: Node does not start reading a new connection; its first frame, already queued, is taken at once
    // (firstFrame).
    const serverOptions = { allowHalfOpen: true, highWaterMark: 0, pauseOnConnect: true };
    const servers = [createServer(serverOptions), createServer(serverOptions)];
    const ingest = new IngestServer(servers, dir, socketPath, readSocketPath, options);
    for (const [i, server] of servers.entries()) {
      server.on('connection', (socket) => {
        ingest.adopt(socket);
        ingest.track(ingest.handle(socket));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(i === 0 ? socketPath : readSocketPath, () => resolve());
      });
    }
    return ingest;
  }

  /** The empty directory the shim hands out for a reopen of a stored virtual file. */
  get standinDir(): string {
    return join(this.dir, 'stand-in');
  }

  /** Connections refused or closed for breaking the protocol. */
  get refused(): number {
    return this.refusedCount;
  }

  /**
   * No new file from now on: an OPEN is answered EROFS (the shim's open fails with it). The socket stays, because the
   * holders of the files still open report their clean end (wire.def: END) over new connections.
   */
  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * Stops accepting, ends every connection still open (a peer that never sent a frame, a writer
   * whose upload was already failed or aborted), waits for the sessions, removes the socket directory.
   */
  async close(): Promise<void> {
    this.stopAccepting();
    this.closing = true;
    for (const server of this.servers) server.close();
    rmSync(this.socketPath, { force: true });
    rmSync(this.readSocketPath, { force: true });
    for (const socket of this.sockets) socket.destroy();
    await Promise.allSettled([...this.sessions]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A connection to serve: an accepted one, or one that took it over (socket-reader.ts); closed with the server. */
  private adopt(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.options.ctx.log.debug(`connection error: ${describeError(err)}`));
  }

  private track(session: Promise<void>): void {
    this.sessions.add(session);
    void session.finally(() => this.sessions.delete(session));
  }

  private async handle(socket: Socket): Promise<void> {
    const { log } = this.options.ctx;
    try {
      const creds = peerCredentials(socket);
      const refusal = (this.options.peerCheck ?? sameUid)(creds);
      // Not the default iterator: it destroys the socket at end of input, before the RESULT is sent.
      const input = socket.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
      // Read the first frame even from a refused peer, to answer it EACCES (its open fails with that).
      const first = await this.firstFrame(socket, input);
      if (!first) {
        if (refusal) this.refuse(socket, `refused a connection from pid ${creds.pid} (uid ${creds.uid}): ${refusal}`);
        // The peer closed without a request: close our half too, or the connection stays half-open.
        else socket.destroy();
        return;
      }
      let { message, rest } = first;
      for (;;) {
        if (refusal) return this.deny(socket, message, `refused a ${message.name} from pid ${creds.pid} (uid ${creds.uid}): ${refusal}`);
        if (!tokenMatches(message, this.options.token)) {
          return this.deny(socket, message, `refused a ${message.name} from pid ${creds.pid}: wrong or missing token`);
        }
        if (message.name === 'OPEN' && !this.accepting) {
          return this.deny(socket, message, `refused an OPEN from pid ${creds.pid}: diskless is stopping (no new files)`, constants.errno.EROFS, 'diskless is stopping: no new files');
        }
        const { reads, files } = this.options;
        if (reads && touchesBackup(message, reads.tree)) {
          const text = 'a file of the stored backup shown under the directory (run --from): read-only; write a new name';
          return this.deny(socket, message, `refused a ${message.name} of a file of the backup (read-only)`, constants.errno.EROFS, text);
        }
        if (message.name === 'OPEN') return await serveFile(socket, rest, message.fields, this.options, (adopted) => this.adopt(adopted));
        if (message.name === 'READ_OPEN') {
          if (reads?.tree.get(message.fields.path.toString())) return await serveRead(socket, input, message.fields, reads);
          return await serveReadBack(socket, input, message.fields, files, this.readBackDeps());
        }
        if (reads && message.name === 'STAT' && reads.tree.get(message.fields.path.toString()) !== undefined) {
          const item = reads.tree.get(message.fields.path.toString())!;
          socket.write(encodeFrame('STAT_REPLY', { err: 0, size: shownSize(item), mtime_ns: BigInt(Math.round(reads.tree.mtimeMs)) * 1_000_000n, message: '' }));
        } else {
          socket.write(await answerRequest(message, this.options.files, log, this.options.onFailure));
        }
        // A request connection carries requests in turn (wire.def), each answered before the next comes, until the
        // peer's EOF: then it is closed (a connection kept to the run's end would hold a descriptor each).
        const next = await this.nextFrame(input, rest);
        if (!next) {
          socket.end(() => socket.destroy());
          return;
        }
        if (next.message.name === 'OPEN' || next.message.name === 'READ_OPEN') {
          return this.refuse(socket, `closed a connection: a ${next.message.name} after a request (wire.def: only a connection's first frame)`);
        }
        ({ message, rest } = next);
      }
    } catch (err) {
      // Closing: a request connection a program still holds (serve) is cut, which is no refusal.
      if (this.closing) return void socket.destroy();
      this.refuse(socket, `closed a connection: ${describeError(err)}`);
    }
  }

  private readBackDeps(): Parameters<typeof serveReadBack>[4] {
    const { ctx, bucket, signal, readBack } = this.options;
    return {
      bucket,
      read: { store: ctx.store, retry: ctx.retry, log: ctx.log },
      requests: this.readBackRequests,
      memory: ctx.budget,
      signal,
      onFailure: readBack?.onFailure ?? (() => undefined),
    };
  }

  /**
   * The first frame of a connection: it must come within the time allowed. The shim sends it right after connecting,
   * so it is usually queued already when the connection is accepted: it is taken then, without waiting for Node to
   * read the new connection, which it would start only at the event loop's next turn (with other files' uploads in
   * that turn, that wait was most of a small file's open: docs/BENCHMARKS.md).
   */
  private async firstFrame(socket: Socket, input: AsyncIterator<Buffer>): Promise<{ message: AnyMessage; rest: Buffer } | undefined> {
    const queued = takeQueued(socket, QUEUED_MAX);
    const frame = takeFrame(queued);
    if (frame) return frame;
    const timer = setTimeout(
      () => socket.destroy(new WireError('no request within the time allowed')),
      this.options.firstFrameTimeoutMs ?? 10_000,
    );
    try {
      return await this.nextFrame(input, queued);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next frame of a connection (after `buffered`, the bytes read past the last one), or undefined at its end. */
  private async nextFrame(input: AsyncIterator<Buffer>, buffered: Buffer): Promise<{ message: AnyMessage; rest: Buffer } | undefined> {
    for (;;) {
      const frame = takeFrame(buffered);
      if (frame) return frame;
      if (buffered.length > WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD) throw new WireError('frame too long');
      const next = await input.next();
      if (next.done) return undefined;
      buffered = buffered.length === 0 ? next.value : Buffer.concat([buffered, next.value]);
    }
  }

  /** Answers a refused request EACCES (the shim's open, rename, unlink or stat fails with it), then closes. */
  private deny(socket: Socket, message: AnyMessage, why: string, err: number = constants.errno.EACCES, text = 'refused: not the run\'s user or token'): void {
    this.refusedCount++;
    this.options.ctx.log.warn(why);
    const reply = message.name === 'STAT' ? encodeFrame('STAT_REPLY', { err, size: 0, mtime_ns: 0, message: text }) : encodeFrame('REPLY', { err, message: text });
    answerAndClose(socket, reply);
  }

  private refuse(socket: Socket, why: string): void {
    this.refusedCount++;
    this.options.ctx.log.warn(why);
    socket.destroy();
  }
}

/**
 * Removes the socket directories of diskless processes that are gone (killed, or exited on a second
 * signal): only `diskless-<pid>-XXXXXX` directories of this user whose pid is not alive, holding
 * nothing but a socket.
 */
export function sweepDeadSocketDirs(log: { debug(m: string): void }, base: string = tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = SOCKET_DIR_RE.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const dir = join(base, name);
    try {
      if (statSync(dir).uid !== process.getuid?.()) continue;
      // Nothing but what a run puts there: the socket and the empty stand-in directory.
      const ours = (entry: string) => entry === SOCKET_NAME || entry === READ_SOCKET_NAME || (entry === 'stand-in' && readdirSync(join(dir, entry)).length === 0);
      if (!readdirSync(dir).every(ours)) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
      log.debug(`removed ${dir}, left by a diskless process that is gone`);
    } catch {
      // raced with another sweeper, or not ours to read
    }
  }
  return removed;
}

/** Does this request write, remove or rename a name of the backup shown under the directory (or a directory holding some)? */
function touchesBackup(message: AnyMessage, tree: BackupTree): boolean {
  const has = (p: Buffer) => tree.get(p.toString()) !== undefined;
  const below = (p: Buffer) => tree.hasBelow(p.toString());
  switch (message.name) {
    case 'OPEN':
    case 'UNLINK':
      return has(message.fields.path);
    case 'RENAME':
      return has(message.fields.from) || has(message.fields.to);
    case 'RENAME_DIR':
      return below(message.fields.from) || below(message.fields.to) || has(message.fields.to);
    default:
      return false;
  }
}

function sameUid(creds: PeerCredentials): string | undefined {
  const uid = process.getuid?.();
  return uid === undefined || creds.uid === uid ? undefined : `diskless runs as uid ${uid}`;
}

function tokenMatches(message: AnyMessage, token: string): boolean {
  if (!('token' in message.fields)) return false;
  const got = message.fields.token;
  const want = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}
