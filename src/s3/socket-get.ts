import { connect, type Socket } from 'node:net';
import { StoreError } from '../store-error.js';
import { toStoreError } from './s3-errors.js';

/**
 * A plain-HTTP GET whose body the kernel reads straight into the caller's buffer: the read path's
 * large ranges, without Node's HTTP client. Node's client hands a body on as 64 KiB socket chunks, each
 * parsed, allocated, pushed through a stream and copied once more into the range buffer: on two cores
 * that, not the network, bounded `get`, `restore` and `verify --deep` (docs/BENCHMARKS.md, "Reading: the
 * body straight into the range buffer"). Here each connection is a `net.Socket` with `onread`: its reads
 * land in the buffer this module points it at, the answer's head in a small scratch buffer, then the
 * body at its offset in the caller's buffer, as much per read as the socket holds.
 *
 * Only what an S3 GET of a byte range needs: one request per connection at a time, kept alive for the
 * next; an answer framed by Content-Length. Anything else (a chunked or close-delimited answer, an error
 * body over 64 KiB, a head over 64 KiB) is `unframed`, and the caller sends the request again through
 * Node's client. Timeouts as the client's: connecting, and no progress for `requestTimeoutMs`.
 */
export interface SocketGetTarget {
  host: string;
  port: number;
  /** Path and query, as signed. */
  path: string;
  /** The signed headers (host among them). */
  headers: Record<string, string | number | readonly string[] | undefined>;
}

export type SocketGetAnswer =
  /** A 2xx answer: its body is in `into` if it fits (`length` ≤ `into.length`); a longer one was not read. */
  | { kind: 'filled'; status: number; headers: Record<string, string>; length: number }
  /** Any other status, with its body (for the error's code and message). */
  | { kind: 'error'; status: number; headers: Record<string, string>; body: string }
  /** An answer this module does not read: send the request again another way. */
  | { kind: 'unframed' };

export interface SocketGetOptions {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  /** Idle connections kept for reuse, per host and port. */
  maxIdle: number;
}

const MAX_HEAD = 64 * 1024;
const MAX_ERROR_BODY = 64 * 1024;
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
  /** Requests it has carried: a reused one may have been closed by the server meanwhile. */
  uses = 0;
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

/** Idle keep-alive connections by host and port, and the GETs sent over them. */
export class SocketGetPool {
  private readonly idle = new Map<string, Connection[]>();

  constructor(private readonly options: SocketGetOptions) {}

  /**
   * GET `target`; a 2xx body goes into `into` (from its start). Rejects with a StoreError for a connection
   * that fails, is cut or stalls, or with the abort's reason.
   */
  async get(target: SocketGetTarget, into: Buffer, signal?: AbortSignal): Promise<SocketGetAnswer> {
    signal?.throwIfAborted();
    const head = requestHead(target);
    const id = `${target.host}\n${target.port}`;
    for (;;) {
      const reused = this.idle.get(id)?.pop();
      const conn = reused ?? new Connection(target.host, target.port, (c) => this.forget(id, c));
      conn.busy();
      const outcome = await exchange(conn, head, into, this.options, signal);
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

type Outcome = 'stale' | { answer: SocketGetAnswer; reusable: boolean };

/** One request and its answer on `conn`. */
function exchange(conn: Connection, head: string, into: Buffer, options: SocketGetOptions, signal?: AbortSignal): Promise<Outcome> {
  const { socket } = conn;
  const reused = conn.uses++ > 0;
  return new Promise<Outcome>((resolve, reject) => {
    let received = 0;
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
      } else resolve(outcome as Outcome);
    };
    const fail = (err: unknown) => finish(err, true);
    const onAbort = () => fail(signal!.reason);
    const onClose = () => {
      if (reused && received === 0) return finish('stale');
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

    const answer = new AnswerReader(conn.scratch, into);
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
    socket.write(head);
  });
}

/**
 * Reads one answer: its head from the scratch buffer, then its body, a 2xx's into `into`, an error's
 * into a buffer of its own. Returns the outcome once the answer is complete.
 */
class AnswerReader {
  private headBytes: Buffer[] = [];
  private headLength = 0;
  private status = 0;
  private headers: Record<string, string> = {};
  /** Where the body goes and how much of it has come: set once the head is read. */
  private body: Buffer | undefined;
  private bodyLength = 0;
  private at = 0;

  constructor(
    private readonly scratch: Buffer,
    private readonly into: Buffer,
  ) {}

  nextBuffer(): Buffer {
    return this.body && this.at < this.bodyLength ? this.body.subarray(this.at, this.bodyLength) : this.scratch;
  }

  read(n: number): Outcome | undefined {
    if (this.body) {
      this.at += n;
      return this.at === this.bodyLength ? this.done() : undefined;
    }
    return this.readHead(this.scratch.subarray(0, n));
  }

  private readHead(bytes: Buffer): Outcome | undefined {
    this.headBytes.push(Buffer.from(bytes));
    this.headLength += bytes.length;
    const all = this.headBytes.length === 1 ? this.headBytes[0]! : Buffer.concat(this.headBytes, this.headLength);
    this.headBytes = [all];
    const end = all.indexOf('\r\n\r\n', Math.max(0, this.headLength - bytes.length - 3), 'latin1');
    if (end < 0) {
      if (this.headLength > MAX_HEAD) return { answer: { kind: 'unframed' }, reusable: false };
      return undefined;
    }
    const parsed = parseHead(all.toString('latin1', 0, end));
    if (!parsed) throw new StoreError('not-s3', 'NotHttp', `the answer is not HTTP (${JSON.stringify(all.toString('latin1', 0, Math.min(end, 40)))})`);
    this.status = parsed.status;
    this.headers = parsed.headers;
    const rest = all.subarray(end + 4);
    const length = framedLength(parsed.status, parsed.headers);
    const success = parsed.status >= 200 && parsed.status < 300;
    if (length === undefined || (!success && length > MAX_ERROR_BODY) || parsed.status < 200) return { answer: { kind: 'unframed' }, reusable: false };
    if (rest.length > length) return { answer: { kind: 'unframed' }, reusable: false }; // bytes past the answer: not a server to trust with a kept connection
    if (success && length > this.into.length) {
      return { answer: { kind: 'filled', status: this.status, headers: this.headers, length }, reusable: false };
    }
    this.body = success ? this.into : Buffer.allocUnsafe(length);
    this.bodyLength = length;
    this.at = rest.copy(this.body, 0);
    return this.at === length ? this.done() : undefined;
  }

  private done(): Outcome {
    const reusable = !/\bclose\b/i.test(this.headers['connection'] ?? '');
    const { status, headers } = this;
    if (status >= 200 && status < 300) return { answer: { kind: 'filled', status, headers, length: this.bodyLength }, reusable };
    return { answer: { kind: 'error', status, headers, body: this.body!.toString('utf8', 0, this.bodyLength) }, reusable };
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

/** The request's head: GET, the path, the signed headers. */
function requestHead(target: SocketGetTarget): string {
  let head = `GET ${target.path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(target.headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    if (/[\r\n]/.test(name) || /[\r\n]/.test(text)) throw new StoreError('rejected', 'BadHeader', `header ${name} holds a line break`);
    head += `${name}: ${text}\r\n`;
  }
  if (/[\s]/.test(target.path)) throw new StoreError('rejected', 'BadPath', `the path ${JSON.stringify(target.path)} holds white space`);
  return `${head}\r\n`;
}

function timedOut(what: string, ms: number): StoreError {
  return new StoreError('retryable', 'TimeoutError', `${what} timed out after ${ms} ms`);
}

function cut(when: string): StoreError {
  return new StoreError('retryable', 'ECONNRESET', `the store closed the connection ${when}`);
}
