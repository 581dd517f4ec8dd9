import { timingSafeEqual } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { peerCredentials, type PeerCredentials } from '../native/process-control.js';
import { takeFrame, WireError, type AnyMessage } from '../wire/frame-codec.js';
import { WIRE_HEADER_SIZE, WIRE_MAX_PAYLOAD } from '../wire/wire.generated.js';
import { serveFile, type FileSessionDeps } from './file-session.js';
import { answerRequest } from './request-session.js';

export interface IngestOptions extends FileSessionDeps {
  /** The run's secret; a peer that does not send it is refused. */
  token: string;
  /** Who may connect (default: the same uid as this process). Injected in tests. */
  peerCheck?: (creds: PeerCredentials) => string | undefined;
  /** How long a new connection may take to send its first frame. */
  firstFrameTimeoutMs?: number;
}

/**
 * The uploader's end of the shim's socket (native/wire/wire.def): a Unix socket in a private 0700
 * directory; every connection is checked (same uid, the run's token) and is either one virtual
 * file (serveFile) or one request (answerRequest). A malformed frame closes its connection and is
 * logged; it never stops the server.
 */
export class IngestServer {
  private readonly sessions = new Set<Promise<void>>();
  private refusedCount = 0;

  private constructor(
    private readonly server: Server,
    readonly dir: string,
    readonly socketPath: string,
    private readonly options: IngestOptions,
  ) {}

  static async listen(options: IngestOptions): Promise<IngestServer> {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-'));
    const socketPath = join(dir, 'ingest.sock');
    // What a reopen of a stored file gets a descriptor of (the shim's stand-in, docs/SHIM.md).
    mkdirSync(join(dir, 'stand-in'), { mode: 0o700 });
    const server = createServer({ allowHalfOpen: true });
    const ingest = new IngestServer(server, dir, socketPath, options);
    server.on('connection', (socket) => ingest.track(ingest.handle(socket)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
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

  /** Stops accepting, waits for the open sessions, removes the socket directory. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.allSettled([...this.sessions]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private track(session: Promise<void>): void {
    this.sessions.add(session);
    void session.finally(() => this.sessions.delete(session));
  }

  private async handle(socket: Socket): Promise<void> {
    const { log } = this.options.ctx;
    socket.on('error', (err) => log.debug(`connection error: ${describeError(err)}`));
    try {
      const creds = peerCredentials(socket);
      const refusal = (this.options.peerCheck ?? sameUid)(creds);
      if (refusal) return this.refuse(socket, `refused a connection from pid ${creds.pid} (uid ${creds.uid}): ${refusal}`);
      // Not the default iterator: it destroys the socket at end of input, before the RESULT is sent.
      const input = socket.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
      const first = await this.firstFrame(socket, input);
      if (!first) return;
      const { message, rest } = first;
      if (!tokenMatches(message, this.options.token)) {
        return this.refuse(socket, `refused a ${message.name} from pid ${creds.pid}: wrong or missing token`);
      }
      if (message.name === 'OPEN') {
        await serveFile(socket, input, rest, message.fields, this.options);
      } else {
        socket.end(await answerRequest(message, this.options.files, log, this.options.onFailure));
      }
    } catch (err) {
      this.refuse(socket, `closed a connection: ${describeError(err)}`);
    }
  }

  private async firstFrame(socket: Socket, input: AsyncIterator<Buffer>): Promise<{ message: AnyMessage; rest: Buffer } | undefined> {
    const timer = setTimeout(
      () => socket.destroy(new WireError('no request within the time allowed')),
      this.options.firstFrameTimeoutMs ?? 10_000,
    );
    try {
      let buffered = Buffer.alloc(0);
      for (;;) {
        const frame = takeFrame(buffered);
        if (frame) return frame;
        if (buffered.length > WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD) throw new WireError('first frame too long');
        const next = await input.next();
        if (next.done) return undefined;
        buffered = Buffer.concat([buffered, next.value]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private refuse(socket: Socket, why: string): void {
    this.refusedCount++;
    this.options.ctx.log.warn(why);
    socket.destroy();
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
