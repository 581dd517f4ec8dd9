// A fault-injecting HTTP proxy for end-to-end tests: it sits on 127.0.0.1 in front of the S3 test server and, per
// request, forwards it untouched or injects a fault chosen by a rule. SigV4 signs the Host header, which the proxy
// passes on unchanged, so the store accepts the forwarded requests as they were signed.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** What the rule sees of a request. */
export interface ProxiedRequest {
  /** 1 for the first request through this proxy. */
  index: number;
  method: string;
  /** Path and query, e.g. `/bucket/key?uploadId=…&partNumber=3`. */
  url: string;
  headers: IncomingMessage['headers'];
  /** Request body bytes forwarded to the store so far, over all requests. */
  bytesForwarded: number;
}

export type Fault =
  /**
   * Answer with this status and an S3 error body (InternalError, SlowDown; 403 AccessDenied and 400 InvalidArgument:
   * refusals no retry cures) after reading the request; `message` is the error's message.
   */
  | { kind: 'status'; status: 400 | 403 | 500 | 503; message?: string }
  /** Forward, then reset the client connection after this many request body bytes. */
  | { kind: 'reset-request'; afterBytes: number }
  /** Forward, pass the status, headers and this many response body bytes, then reset the connection. */
  | { kind: 'reset-response'; afterBytes: number }
  /** Hold the request this long before forwarding it (Infinity: never answer). */
  | { kind: 'stall'; ms: number }
  /** Forward with one byte of the request body inverted (at its middle). */
  | { kind: 'flip-request' }
  /** Forward once `until` resolves. */
  | { kind: 'hold'; until: Promise<unknown> };

export type FaultRule = (req: ProxiedRequest) => Fault | undefined | Promise<Fault | undefined>;

export interface FaultProxy {
  readonly endpoint: string;
  readonly port: number;
  /** Faults injected so far, by kind. */
  readonly counts: Record<Fault['kind'] | 'forwarded', number>;
  /** Request body bytes forwarded to the store so far. */
  readonly bytesForwarded: number;
  setRule(rule: FaultRule): void;
  /** Closes the listener and every connection (stalled ones included). */
  close(): Promise<void>;
}

/** Ports of this proxy (the helper's range 19100-19149). */
export const FAULT_PROXY_PORTS = { first: 19100, last: 19149 } as const;

export async function startFaultProxy(options: { target: string; rule?: FaultRule }): Promise<FaultProxy> {
  const target = new URL(options.target);
  let rule: FaultRule = options.rule ?? (() => undefined);
  let index = 0;
  let bytesForwarded = 0;
  const counts: FaultProxy['counts'] = { status: 0, 'reset-request': 0, 'reset-response': 0, stall: 0, 'flip-request': 0, hold: 0, forwarded: 0 };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: IncomingMessage, res: ServerResponse, fault: Fault | undefined) => {
    const length = Number(req.headers['content-length'] ?? 0);
    const flipAt = fault?.kind === 'flip-request' && length > 0 ? Math.floor(length / 2) : -1;
    const resetRequestAt = fault?.kind === 'reset-request' ? fault.afterBytes : -1;
    const upstream = httpRequest(
      { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        let sent = 0;
        const resetAt = fault?.kind === 'reset-response' ? fault.afterBytes : -1;
        up.on('data', (chunk: Buffer) => {
          if (resetAt >= 0 && sent + chunk.length > resetAt) {
            res.write(chunk.subarray(0, Math.max(0, resetAt - sent)));
            up.destroy();
            req.socket.destroy();
            return;
          }
          sent += chunk.length;
          res.write(chunk);
        });
        up.on('end', () => res.end());
        up.on('error', () => req.socket.destroy());
      },
    );
    upstream.on('error', () => req.socket.destroy());
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      if (resetRequestAt >= 0 && seen + chunk.length > resetRequestAt) {
        upstream.destroy();
        req.socket.destroy();
        return;
      }
      if (flipAt >= seen && flipAt < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[flipAt - seen] = chunk[flipAt - seen]! ^ 0xff;
      }
      seen += chunk.length;
      bytesForwarded += chunk.length;
      if (!upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => upstream.end());
  };

  const errorBody = (status: 400 | 403 | 500 | 503, message = 'injected') => {
    const code = { 400: 'InvalidArgument', 403: 'AccessDenied', 500: 'InternalError', 503: 'SlowDown' }[status];
    return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message.replace(/[<>&]/g, '')}</Message></Error>`;
  };

  const server = createServer((req, res) => {
    req.pause();
    const seen: ProxiedRequest = { index: ++index, method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, bytesForwarded };
    void Promise.resolve(rule(seen)).then(async (fault) => {
      if (fault) counts[fault.kind]++;
      else counts.forwarded++;
      if (fault?.kind === 'status') {
        req.resume();
        req.on('end', () => {
          const body = errorBody(fault.status, fault.message);
          res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        });
        return;
      }
      if (fault?.kind === 'stall') {
        if (fault.ms === Number.POSITIVE_INFINITY) return; // never answered; close() ends it
        await new Promise<void>((r) => {
          const t = setTimeout(() => (timers.delete(t), r()), fault.ms);
          timers.add(t);
        });
      }
      if (fault?.kind === 'hold') await fault.until;
      if (req.socket.destroyed) return;
      forward(req, res, fault);
      req.resume();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  let port = 0;
  for (let p = FAULT_PROXY_PORTS.first; p <= FAULT_PROXY_PORTS.last && port === 0; p++) {
    port = await new Promise<number>((resolve) => {
      server.once('error', () => resolve(0));
      server.listen(p, '127.0.0.1', () => resolve(p));
    });
  }
  if (port === 0) throw new Error(`no free port for the fault proxy in ${FAULT_PROXY_PORTS.first}-${FAULT_PROXY_PORTS.last}`);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    counts,
    get bytesForwarded() {
      return bytesForwarded;
    },
    setRule: (r) => (rule = r),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Rates (0..1) of each fault among requests; the rest are forwarded. */
export interface FaultRates {
  status500?: number;
  status503?: number;
  resetRequest?: number;
  resetResponse?: number;
  flipRequest?: number;
}

/**
 * A rule drawing faults at random with the given rates, from a seeded generator so a failing soak can be replayed.
 * Resets cut the body at a random point of its first MiB.
 */
export function randomFaults(rates: FaultRates, seed = 1): FaultRule {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  return () => {
    let x = next();
    const pick = (rate: number | undefined) => {
      x -= rate ?? 0;
      return x < 0;
    };
    if (pick(rates.status500)) return { kind: 'status', status: 500 };
    if (pick(rates.status503)) return { kind: 'status', status: 503 };
    if (pick(rates.resetRequest)) return { kind: 'reset-request', afterBytes: Math.floor(next() * 1024 * 1024) };
    if (pick(rates.resetResponse)) return { kind: 'reset-response', afterBytes: Math.floor(next() * 1024 * 1024) };
    if (pick(rates.flipRequest)) return { kind: 'flip-request' };
    return undefined;
  };
}
