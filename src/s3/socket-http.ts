import { connect, type Socket } from 'node:net';
import { StoreError } from '../store-error.js';
import { MAX_ERROR_BODY, timedOut, toStoreError } from './s3-errors.js';

/**
 * Plain-HTTP requests of S3's data path without Node's HTTP client: a ranged GET whose body the kernel
 * reads straight into the caller's buffer, and a PUT of a body in one piece. Node's client hands a body
 * on as 64 KiB socket chunks, each parsed, allocated, pushed through a stream and copied once more into
 * the range buffer: on two cores that, not the network, bounded `get`, `restore` and `verify --deep`
 * (docs/BENCHMARKS.md, "Reading: the body straight into the range buffer"); and its answer path (parser,
 * IncomingMessage, events) was most of the CPU of a small PutObject. Here each connection is a
 * `net.Socket` with `onread`: its reads land in the buffer this module points it at, the answer's head in
 * a small scratch buffer, then a GET's body at its offset in the caller's buffer, as much per read as the
 * socket holds.
 *
 * Only what these requests need: one request per connection at a time, kept alive for the next; an
 * answer framed by Content-Length, or an error's (or a PUT answer's) body of up to 64 KiB sent chunked.
 * Anything else (a GET's body chunked or close-delimited, a body over 64 KiB without a buffer for it) is
 * `unframed` (a head over 64 KiB: `unread`), and the caller sends a GET again through Node's client; a PUT
 * was acted on, and its head decides (see `put`). Timeouts as the
 * client's: connecting, and no progress for `requestTimeoutMs`.
 */
export interface SocketTarget {
  host: string;
  port: number;
  /** Path and query, as signed. */
  path: string;
  /** The signed headers (host among them). */
  headers: Record<string, string | number | readonly string[] | undefined>;
}

export type SocketAnswer =
  /** A 2xx answer: a GET's body is in `into` if it fits (`length` ≤ `into.length`; a longer one was not read). */
  | { kind: 'filled'; status: number; headers: Record<string, string>; length: number }
  /** Any other status, with its body (for the error's code and message). */
  | { kind: 'error'; status: number; headers: Record<string, string>; body: string }
  /** An answer whose body this module does not read: its head only (a GET is sent again another way). */
  | { kind: 'unframed'; status: number; headers: Record<string, string> }
  /** An answer whose head is over 64 KiB: not read at all. */
  | { kind: 'unread' };

export interface SocketHttpOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Idle connections kept for reuse, per host and port. */
  maxIdle: number;
}

const MAX_HEAD = 64 * 1024;
/** A body read without a buffer from the caller (an error's, a PUT's answer) may be at most this long. */
const MAX_BODY = MAX_ERROR_BODY;
const SCRATCH = 16 * 1024;
/** An idle connection is closed after this long (servers close theirs after 5 s or more). */
const IDLE_MS = 4_000;

/** One request's state on a connection: where the next read lands and what to do with it. */
interface Exchange {
  buffer(): Buffer;
  read(n: number): void;
}

/** A keep-alive connection and whichever exchange is using it. */
class Connection {
  exchange: Exchange | undefined;
  readonly scratch = Buffer.allocUnsafe(SCRATCH);
  readonly socket: Socket;
  /** Whether it has carried a request: a kept one may have been closed by the server meanwhile. */
  used = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(host: string, port: number, onGone: (c: Connection) => void) {
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: () => this.exchange?.buffer() ?? this.scratch,
        callback: (n: number) => {
          if (this.exchange) this.exchange.read(n);
          else this.socket.destroy(new Error('the server sent bytes nobody asked for'));
          return true;
        },
      },
    });
    this.socket.on('error', () => undefined); // reported through 'close' to the exchange, if any
    this.socket.once('close', () => {
      this.stopIdle();
      onGone(this);
    });
  }

  idle(onTimeout: () => void): void {
    this.socket.unref();
    this.idleTimer = setTimeout(onTimeout, IDLE_MS);
    this.idleTimer.unref();
  }

  busy(): void {
    this.stopIdle();
    this.socket.ref();
  }

  private stopIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

/** Idle keep-alive connections by host and port, and the requests sent over them. */
export class SocketHttpPool {
  private readonly idle = new Map<string, Connection[]>();

  constructor(private readonly options: SocketHttpOptions) {}

  /**
   * GET `target`; a 2xx body goes into `into` (from its start). Rejects with a StoreError for a connection
   * that fails, is cut or stalls, or with the abort's reason. A kept connection the server had closed
   * meanwhile (no byte of answer) gets the GET again on a new one.
   */
  get(target: SocketTarget, into: Buffer, signal?: AbortSignal): Promise<SocketAnswer> {
    return this.send('GET', target, undefined, into, signal);
  }

  /**
   * PUT `target` with `body` (Content-Length among its headers); the answer's body, if any, is dropped. As
   * `get`, but a PUT is not sent again on its own: a connection closed without an answer may still have
   * stored it, so that is a retryable error for the caller's retry (which knows what a repeat means).
   */
  put(target: SocketTarget, body: Uint8Array, signal?: AbortSignal): Promise<SocketAnswer> {
    return this.send('PUT', target, body, undefined, signal);
  }

  private async send(method: 'GET' | 'PUT', target: SocketTarget, body: Uint8Array | undefined, into: Buffer | undefined, signal?: AbortSignal): Promise<SocketAnswer> {
    signal?.throwIfAborted();
    const head = requestHead(method, target);
    const id = `${target.host}\n${target.port}`;
    for (;;) {
      const reused = this.idle.get(id)?.pop();
      const conn = reused ?? new Connection(target.host, target.port, (c) => this.forget(id, c));
      conn.busy();
      const outcome = await exchange(conn, { head, body, into, resend: method === 'GET' }, this.options, signal);
      if (outcome === 'stale') continue; // a kept connection the server had closed: once more on a new one
      if (outcome.reusable) this.keep(id, conn);
      else conn.socket.destroy();
      return outcome.answer;
    }
  }

  /** Closes every idle connection. */
  close(): void {
    for (const conns of this.idle.values()) for (const c of conns) c.socket.destroy();
    this.idle.clear();
  }

  private keep(id: string, conn: Connection): void {
    const list = this.idle.get(id) ?? [];
    if (list.length >= this.options.maxIdle) {
      conn.socket.destroy();
      return;
    }
    list.push(conn);
    this.idle.set(id, list);
    conn.idle(() => conn.socket.destroy());
  }

  private forget(id: string, conn: Connection): void {
    const list = this.idle.get(id);
    const at = list?.indexOf(conn) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  }
}

type Outcome = 'stale' | { answer: SocketAnswer; reusable: boolean };

interface Request {
  head: string;
  body: Uint8Array | undefined;
  /** Where a 2xx body goes (without it: read up to 64 KiB and dropped). */
  into: Buffer | undefined;
  /** Whether it may be sent again on a new connection when a kept one turns out closed. */
  resend: boolean;
}

/** One request and its answer on `conn`. */
function exchange(conn: Connection, request: Request, options: SocketHttpOptions, signal?: AbortSignal): Promise<Outcome> {
  const { socket } = conn;
  const reused = conn.used;
  conn.used = true;
  return new Promise<Outcome>((resolve, reject) => {
    let received = 0;
    let sent = request.body === undefined;
    let settled = false;
    const finish = (outcome: Outcome | Error | unknown, failed = false) => {
      if (settled) return;
      settled = true;
      conn.exchange = undefined;
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      clearTimeout(connectTimer);
      socket.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (failed) {
        socket.destroy();
        reject(outcome);
      } else if (outcome !== 'stale' && !sent) {
        // Answered before its body was all sent (an early refusal): the connection is not at a request boundary.
        resolve({ ...(outcome as Exclude<Outcome, 'stale'>), reusable: false });
      } else resolve(outcome as Outcome);
    };
    const fail = (err: unknown) => finish(err, true);
    const onAbort = () => fail(signal!.reason);
    const onClose = () => {
      if (reused && received === 0 && request.resend) return finish('stale');
      const err = (socket as Socket & { errored?: Error | null }).errored;
      fail(err ? toStoreError(err) : cut(received === 0 ? 'before it answered' : 'in the middle of its answer'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('close', onClose);
    const connectTimer = socket.connecting
      ? setTimeout(() => fail(timedOut('connecting', options.connectTimeoutMs)), options.connectTimeoutMs)
      : undefined;
    if (connectTimer) socket.once('connect', () => clearTimeout(connectTimer));
    const onTimeout = () => fail(timedOut('the request', options.requestTimeoutMs));
    socket.on('timeout', onTimeout);
    socket.setTimeout(options.requestTimeoutMs);

    const answer = new AnswerReader(conn.scratch, request.into);
    conn.exchange = {
      buffer: () => answer.nextBuffer(),
      read: (n) => {
        received += n;
        let outcome: Outcome | undefined;
        try {
          outcome = answer.read(n);
        } catch (err) {
          fail(err);
          return;
        }
        if (outcome) finish(outcome);
      },
    };
    if (request.body === undefined) socket.write(request.head);
    else {
      socket.cork();
      socket.write(request.head);
      socket.write(request.body, () => (sent = true));
      socket.uncork();
    }
  });
}

/**
 * Reads one answer: its head from the scratch buffer, then its body, a 2xx's into `into`, an error's
 * into a buffer of its own. Returns the outcome once the answer is complete.
 */
class AnswerReader {
  /** The answer's bytes until its head ends (copied: the scratch buffer takes the next read). */
  private head = Buffer.alloc(0);
  private status = 0;
  private headers: Record<string, string> = {};
  /** Where the body goes and how much of it has come: set once the head is read. */
  private body: Buffer | undefined;
  private bodyLength = 0;
  private at = 0;
  /** A chunked body read without a buffer from the caller: its bytes so far, framing included. */
  private chunked: Buffer | undefined;

  constructor(
    private readonly scratch: Buffer,
    private readonly into: Buffer | undefined,
  ) {}

  nextBuffer(): Buffer {
    return this.body && this.at < this.bodyLength ? this.body.subarray(this.at, this.bodyLength) : this.scratch;
  }

  read(n: number): Outcome | undefined {
    if (this.chunked) return this.readChunked(this.scratch.subarray(0, n));
    if (this.body) {
      this.at += n;
      return this.at === this.bodyLength ? this.done() : undefined;
    }
    return this.readHead(this.scratch.subarray(0, n));
  }

  private readHead(bytes: Buffer): Outcome | undefined {
    const from = Math.max(0, this.head.length - 3);
    const all = (this.head = Buffer.concat([this.head, bytes]));
    const end = all.indexOf('\r\n\r\n', from, 'latin1');
    if ((end < 0 ? all.length : end) > MAX_HEAD) return { answer: { kind: 'unread' }, reusable: false };
    if (end < 0) return undefined;
    const parsed = parseHead(all.toString('latin1', 0, end));
    if (!parsed) throw new StoreError('not-s3', 'NotHttp', `the answer is not HTTP (${JSON.stringify(all.toString('latin1', 0, Math.min(end, 40)))})`);
    this.status = parsed.status;
    this.headers = parsed.headers;
    const rest = all.subarray(end + 4);
    const length = framedLength(parsed.status, parsed.headers);
    const success = parsed.status >= 200 && parsed.status < 300;
    const into = success ? this.into : undefined;
    // An error's body (or a PUT's answer) sent chunked, as many servers do: decoded, up to MAX_BODY.
    if (!into && parsed.status >= 200 && /^chunked$/i.test(parsed.headers['transfer-encoding'] ?? '')) {
      this.chunked = Buffer.alloc(0);
      return this.readChunked(rest);
    }
    if (length === undefined || (!into && length > MAX_BODY) || parsed.status < 200) return this.unframed();
    if (rest.length > length) return this.unframed(); // bytes past the answer: not a server to trust with a kept connection
    if (into && length > into.length) {
      return { answer: { kind: 'filled', status: this.status, headers: this.headers, length }, reusable: false };
    }
    this.body = into ?? Buffer.allocUnsafe(length);
    this.bodyLength = length;
    this.at = rest.copy(this.body, 0);
    return this.at === length ? this.done() : undefined;
  }

  private readChunked(bytes: Buffer): Outcome | undefined {
    const all = (this.chunked = Buffer.concat([this.chunked!, bytes]));
    if (all.length > MAX_BODY + 4096) return this.unframed();
    const decoded = decodeChunked(all);
    if (decoded === undefined) return undefined;
    if (decoded === 'malformed' || decoded.end !== all.length) return this.unframed();
    this.body = decoded.body;
    this.bodyLength = decoded.body.length;
    return this.done();
  }

  /** The head alone; the connection is not kept (its body is unread, or not to be trusted). */
  private unframed(): Outcome {
    return { answer: { kind: 'unframed', status: this.status, headers: this.headers }, reusable: false };
  }

  private done(): Outcome {
    const reusable = !/\bclose\b/i.test(this.headers['connection'] ?? '');
    const { status, headers } = this;
    if (status >= 200 && status < 300) return { answer: { kind: 'filled', status, headers, length: this.bodyLength }, reusable };
    return { answer: { kind: 'error', status, headers, body: this.body!.toString('utf8', 0, this.bodyLength) }, reusable };
  }
}

/**
 * The body of a chunked transfer coding at the start of `data`, and where it ends (trailers included):
 * undefined while it is not all there, 'malformed' when it is not chunked coding.
 */
export function decodeChunked(data: Buffer): { body: Buffer; end: number } | 'malformed' | undefined {
  const pieces: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return data.length - at > 1024 ? 'malformed' : undefined;
    const m = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(data.toString('latin1', at, eol));
    if (!m) return 'malformed';
    const size = parseInt(m[1]!, 16);
    at = eol + 2;
    if (size === 0) break;
    if (data.length < at + size + 2) return undefined;
    if (data.toString('latin1', at + size, at + size + 2) !== '\r\n') return 'malformed';
    pieces.push(data.subarray(at, at + size));
    at += size + 2;
  }
  // Trailer fields, then an empty line.
  for (;;) {
    const eol = data.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return undefined;
    const empty = eol === at;
    at = eol + 2;
    if (empty) return { body: Buffer.concat(pieces), end: at };
  }
}

/** The body's length from Content-Length (none for 204 and 304), or undefined when the answer is framed otherwise. */
function framedLength(status: number, headers: Record<string, string>): number | undefined {
  if (status === 204 || status === 304) return 0;
  if (headers['transfer-encoding'] !== undefined) return undefined;
  const text = headers['content-length'];
  if (text === undefined || !/^\d{1,15}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

/** The status and headers (names in lower case, repeated ones joined with commas) of an answer's head. */
export function parseHead(text: string): { status: number; headers: Record<string, string> } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers };
}

/** The request's head: the method, the path, the signed headers. */
function requestHead(method: string, target: SocketTarget): string {
  let head = `${method} ${target.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(target.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    if (/[\r\n]/.test(name) || /[\r\n]/.test(text)) throw new StoreError('rejected', 'BadHeader', `header ${name} holds a line break`);
    head += `${name}: ${text}\r\n`;
  }
  if (/[\s]/.test(target.path)) throw new StoreError('rejected', 'BadPath', `the path ${JSON.stringify(target.path)} holds white space`);
  return `${head}\r\n`;
}

function cut(when: string): StoreError {
  return new StoreError('retryable', 'ECONNRESET', `the store closed the connection ${when}`);
}
