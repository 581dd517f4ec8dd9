import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeChunked, parseHead, SocketHttpPool, type SocketTarget } from '../../../src/s3/socket-http.js';
import { StoreError } from '../../../src/store-error.js';

/**
 * A loopback TCP server that answers each request head with what `answer` writes: socket-http.ts reads
 * HTTP off the wire itself, so the tests need answers no HTTP server library would send (split at any
 * byte, cut, stalled, chunked, with bytes past their end).
 */
interface Script {
  server: Server;
  port: number;
  /** Connections accepted. */
  connections: number;
  /** Request heads received, in order. */
  requests: string[];
  /** Their bodies (by Content-Length). */
  bodies: string[];
}

let current: Script | undefined;
let pool: SocketHttpPool | undefined;
afterEach(async () => {
  pool?.close();
  pool = undefined;
  if (current) await new Promise<void>((resolve) => current!.server.close(() => resolve()));
  current = undefined;
});

async function serve(answer: (socket: Socket, request: string, n: number) => void): Promise<Script> {
  const sockets = new Set<Socket>();
  const script: Script = { server: createServer(), port: 0, connections: 0, requests: [], bodies: [] };
  script.server.on('connection', (socket) => {
    script.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, end);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (pending.length < end + 4 + length) return; // the body is still coming
        script.bodies.push(pending.slice(end + 4, end + 4 + length));
        pending = pending.slice(end + 4 + length);
        script.requests.push(head);
        answer(socket, head, script.requests.length);
      }
    });
  });
  const close = script.server.close.bind(script.server);
  script.server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as Server['close'];
  await new Promise<void>((resolve) => script.server.listen(0, '127.0.0.1', () => resolve()));
  script.port = (script.server.address() as AddressInfo).port;
  current = script;
  return script;
}

function target(port: number, path = '/bucket/key'): SocketTarget {
  return { host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, range: 'bytes=0-99', authorization: 'AWS4-HMAC-SHA256 x' } };
}

function newPool(requestTimeoutMs = 5_000): SocketHttpPool {
  pool = new SocketHttpPool({ connectTimeoutMs: 2_000, requestTimeoutMs, maxIdle: 4 });
  return pool;
}

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
const ok = (body: Buffer, extra = '') => Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nETag: "e1"\r\nContent-Length: ${body.length}\r\n${extra}\r\n`), body]);

describe('SocketHttpPool reads a GET\'s body straight into the caller\'s buffer', () => {
  it('sends the signed request head as given and fills the buffer with the body, whatever the answer\'s pieces', async () => {
    const body = bytes(300_000);
    const s = await serve((socket) => {
      // The head split mid-line, and the body in pieces of every size, one byte at first.
      const all = ok(body);
      const cuts = [5, 17, 60, 61, 200, 5_000, 70_000, all.length];
      let from = 0;
      const next = () => {
        const to = cuts.shift();
        if (to === undefined) return;
        socket.write(all.subarray(from, to));
        from = to;
        setTimeout(next, 2);
      };
      next();
    });
    const into = Buffer.alloc(400_000);
    const answer = await newPool().get(target(s.port), into);
    expect(answer).toMatchObject({ kind: 'filled', status: 206, length: body.length, headers: { etag: '"e1"' } });
    expect(into.subarray(0, body.length).equals(body)).toBe(true);
    expect(s.requests[0]).toBe(`GET /bucket/key HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\nrange: bytes=0-99\r\nauthorization: AWS4-HMAC-SHA256 x`);
  });

  it('keeps the connection for the next GET, and opens more only for GETs at the same time', async () => {
    const s = await serve((socket, _req, n) => socket.write(ok(bytes(1000, n))));
    const p = newPool();
    for (let i = 1; i <= 3; i++) {
      const into = Buffer.alloc(1000);
      await p.get(target(s.port), into);
      expect(into.equals(bytes(1000, i))).toBe(true);
    }
    expect(s.connections).toBe(1);
    await Promise.all([1, 2, 3].map(() => p.get(target(s.port), Buffer.alloc(1000))));
    expect(s.connections).toBe(3);
  });

  it('returns an error answer with its body, and keeps the connection', async () => {
    const xml = '<?xml version="1.0"?><Error><Code>PreconditionFailed</Code></Error>';
    const s = await serve((socket, _req, n) =>
      socket.write(n === 1 ? `HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/xml\r\nContent-Length: ${xml.length}\r\n\r\n${xml}` : ok(bytes(10))),
    );
    const p = newPool();
    await expect(p.get(target(s.port), Buffer.alloc(10))).resolves.toEqual({
      kind: 'error',
      status: 412,
      headers: { 'content-type': 'application/xml', 'content-length': String(xml.length) },
      body: xml,
    });
    await expect(p.get(target(s.port), Buffer.alloc(10))).resolves.toMatchObject({ kind: 'filled' });
    expect(s.connections).toBe(1);
  });

  it('does not read an answer longer than the buffer, and closes its connection', async () => {
    const s = await serve((socket) => socket.write(ok(bytes(5000))));
    const p = newPool();
    await expect(p.get(target(s.port), Buffer.alloc(100))).resolves.toMatchObject({ kind: 'filled', length: 5000 });
    await p.get(target(s.port), Buffer.alloc(5000));
    expect(s.connections).toBe(2);
  });

  it('calls unframed (for the caller to send another way) a chunked answer, one without a length, and one with bytes past its end', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef',
      'HTTP/1.1 100 Continue\r\n\r\n',
    ];
    const s = await serve((socket, _req, n) => socket.write(answers[n - 1]!));
    const p = newPool();
    for (const _ of answers) await expect(p.get(target(s.port), Buffer.alloc(10))).resolves.toMatchObject({ kind: 'unframed' });
    expect(s.connections).toBe(answers.length);
  });

  it('does not read an answer whose head is over 64 KiB (unread), and closes its connection', async () => {
    const s = await serve((socket) => socket.write(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(70_000)}\r\nContent-Length: 0\r\n\r\n`));
    await expect(newPool().get(target(s.port), Buffer.alloc(10))).resolves.toEqual({ kind: 'unread' });
  });

  it('sends the GET again on a new connection when the kept one was closed by the server meanwhile', async () => {
    // The server drops its side of the first connection at the second request, without a byte of answer.
    const s = await serve((socket, _req, n) => (n === 2 ? socket.destroy() : socket.write(ok(bytes(50, n)))));
    const p = newPool();
    await p.get(target(s.port), Buffer.alloc(50));
    const into = Buffer.alloc(50);
    await expect(p.get(target(s.port), into)).resolves.toMatchObject({ kind: 'filled', length: 50 });
    expect(into.equals(bytes(50, 3))).toBe(true);
    expect(s.connections).toBe(2);
  });

  it('fails an answer cut off mid-body as retryable (ECONNRESET), not as a short read', async () => {
    const s = await serve((socket) => {
      socket.write(ok(bytes(100_000)).subarray(0, 50_000));
      setTimeout(() => socket.destroy(), 20);
    });
    const err: unknown = await newPool().get(target(s.port), Buffer.alloc(100_000)).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'retryable', code: 'ECONNRESET', message: expect.stringMatching(/in the middle of its answer/) });
  });

  it('fails a connection closed before any answer, a new one, as retryable', async () => {
    const s = await serve((socket) => socket.destroy());
    const err: unknown = await newPool().get(target(s.port), Buffer.alloc(10)).catch((e: unknown) => e);
    expect(StoreError.is(err) && err.kind).toBe('retryable');
    expect(s.connections).toBe(1);
  });

  it('fails a body that stops arriving within the request timeout, as a retryable TimeoutError', async () => {
    const s = await serve((socket) => socket.write(ok(bytes(100_000)).subarray(0, 1000)));
    const started = Date.now();
    const err: unknown = await newPool(300).get(target(s.port), Buffer.alloc(100_000)).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'retryable', code: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('fails a refused connection as retryable (ECONNREFUSED)', async () => {
    const s = await serve(() => undefined);
    const { port } = s;
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
    current = undefined;
    const err: unknown = await newPool().get(target(port), Buffer.alloc(10)).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'retryable', code: 'ECONNREFUSED' });
  });

  it('stops at once with the abort\'s reason when the caller\'s signal fires, and closes that connection', async () => {
    let closed = false;
    const s = await serve((socket) => {
      socket.write(ok(bytes(100_000)).subarray(0, 1000));
      socket.on('close', () => (closed = true));
    });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error('stopped by the test')), 50);
    await expect(newPool().get(target(s.port), Buffer.alloc(100_000), stop.signal)).rejects.toThrow('stopped by the test');
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(true);
  });

  it('refuses a header value or a path that would split the request', async () => {
    const s = await serve(() => undefined);
    const p = newPool();
    await expect(p.get({ ...target(s.port), headers: { x: 'a\r\nb: c' } }, Buffer.alloc(1))).rejects.toMatchObject({ code: 'BadHeader' });
    await expect(p.get({ ...target(s.port), path: '/a b' }, Buffer.alloc(1))).rejects.toMatchObject({ code: 'BadPath' });
    expect(s.requests).toEqual([]);
  });

  it('fails an answer that is not HTTP as not S3', async () => {
    const s = await serve((socket) => socket.write('SSH-2.0-OpenSSH_9.2\r\nfoo\r\n\r\n'));
    await expect(newPool().get(target(s.port), Buffer.alloc(10))).rejects.toMatchObject({ kind: 'not-s3', code: 'NotHttp' });
  });

  it('closes its idle connections on close()', async () => {
    let closed = 0;
    const s = await serve((socket) => {
      socket.on('close', () => closed++);
      socket.write(ok(bytes(10)));
    });
    const p = newPool();
    await p.get(target(s.port), Buffer.alloc(10));
    p.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(1);
  });
});

describe('SocketHttpPool sends a PUT of a body in one piece', () => {
  it('sends the head and the body, reads the answer\'s head and drops its body, and keeps the connection', async () => {
    const s = await serve((socket) => socket.write('HTTP/1.1 200 OK\r\nETag: "p1"\r\nContent-Length: 2\r\n\r\nok'));
    const p = newPool();
    const put = { ...target(s.port), headers: { host: 'h', 'content-length': 5 } };
    await expect(p.put(put, Buffer.from('hello'))).resolves.toEqual({ kind: 'filled', status: 200, headers: { etag: '"p1"', 'content-length': '2' }, length: 2 });
    await expect(p.put(put, Buffer.from('world'))).resolves.toMatchObject({ kind: 'filled' });
    expect(s.requests[0]).toBe('PUT /bucket/key HTTP/1.1\r\nhost: h\r\ncontent-length: 5');
    expect(s.bodies).toEqual(['hello', 'world']);
    expect(s.connections).toBe(1);
  });

  it('does not send a PUT again on its own when the kept connection closes without an answer: that is a retryable error', async () => {
    const s = await serve((socket, _req, n) => (n === 2 ? socket.destroy() : socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')));
    const p = newPool();
    const put = { ...target(s.port), headers: { host: 'h', 'content-length': 1 } };
    await p.put(put, Buffer.from('a'));
    const err: unknown = await p.put(put, Buffer.from('b')).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'retryable', message: expect.stringMatching(/before it answered/) });
    expect(s.connections).toBe(1);
    expect(s.requests).toHaveLength(2);
  });

  it('decodes an error body sent chunked, in pieces, and keeps the connection', async () => {
    const answer = 'HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n<Err>\r\n6;ext=1\r\n</Err>\r\n0\r\n\r\n';
    const s = await serve((socket) => {
      socket.write(answer.slice(0, 70));
      setTimeout(() => socket.write(answer.slice(70)), 5);
    });
    const p = newPool();
    const put = { ...target(s.port), headers: { host: 'h' } };
    await expect(p.put(put, Buffer.alloc(0))).resolves.toMatchObject({ kind: 'error', status: 503, headers: { 'content-type': 'application/xml' }, body: '<Err></Err>' });
    await p.put(put, Buffer.alloc(0));
    expect(s.connections).toBe(1);
  });

  it('returns the head of an answer whose body it does not read (over 64 KiB, chunked), and closes that connection', async () => {
    const big = 'x'.repeat(70_000);
    const s = await serve((socket) => socket.write(`HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`));
    const p = newPool();
    const put = { ...target(s.port), headers: { host: 'h' } };
    await expect(p.put(put, Buffer.alloc(0))).resolves.toMatchObject({ kind: 'unframed', status: 500 });
    await p.put(put, Buffer.alloc(0));
    expect(s.connections).toBe(2);
  });
});

describe('decodeChunked', () => {
  it('decodes the chunks and skips extensions and trailers, saying where the coding ends', () => {
    const coded = Buffer.from('3\r\nabc\r\n1;x=y\r\nd\r\n0\r\nTrailer: t\r\n\r\n');
    expect(decodeChunked(coded)).toEqual({ body: Buffer.from('abcd'), end: coded.length });
    expect(decodeChunked(Buffer.concat([coded, Buffer.from('more')]))).toEqual({ body: Buffer.from('abcd'), end: coded.length });
  });

  it('says incomplete until the last line, and malformed for what is not chunked coding', () => {
    const coded = '3\r\nabc\r\n0\r\n\r\n';
    for (let n = 0; n < coded.length; n++) expect(decodeChunked(Buffer.from(coded.slice(0, n))), coded.slice(0, n)).toBeUndefined();
    expect(decodeChunked(Buffer.from('zz\r\n'))).toBe('malformed');
    expect(decodeChunked(Buffer.from('3\r\nabcX\r\n0\r\n\r\n'))).toBe('malformed');
  });
});

describe('parseHead', () => {
  it('reads the status and the headers, names in lower case, repeated ones joined', () => {
    expect(parseHead('HTTP/1.1 206 Partial Content\r\nETag: "x"\r\nX-A: 1\r\nx-a: 2\r\nEmpty:')).toEqual({
      status: 206,
      headers: { etag: '"x"', 'x-a': '1, 2', empty: '' },
    });
    expect(parseHead('HTTP/1.0 200')).toEqual({ status: 200, headers: {} });
  });

  it('refuses what is not an HTTP/1 answer head', () => {
    expect(parseHead('HTTP/2 200 OK')).toBeUndefined();
    expect(parseHead('<html>')).toBeUndefined();
    expect(parseHead('HTTP/1.1 200 OK\r\nno colon here')).toBeUndefined();
  });
});
