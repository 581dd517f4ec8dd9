import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { S3Client } from '@aws-sdk/client-s3';
import { DirectRequests, encodeKey } from '../../../src/s3/direct-requests.js';
import { createHttpTransport, createS3Client } from '../../../src/s3/s3-client.js';
import { StoreError } from '../../../src/store-error.js';
import type { PutRequest } from '../../../src/upload/object-store.js';

/** What RGW cannot be made to do on demand (hang, answer HTML, refuse): a loopback HTTP server that does it. */
let server: Server | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function direct(endpointUrl: string, requestTimeoutMs = 5_000): DirectRequests {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
  const conn = { endpointUrl, region: 'us-east-1', requestTimeoutMs };
  const transport = createHttpTransport(conn);
  return new DirectRequests(createS3Client(conn, transport), transport);
}

const body = Buffer.from('hello');
const request = (key = 'a/b c'): PutRequest => ({
  bucket: 'bucket',
  key,
  body: [body],
  contentLength: body.length,
  contentMd5: createHash('md5').update(body).digest('base64'),
  settings: { metadata: { 'diskless-writer': 'w1' } },
  ifNoneMatch: true,
});

describe('DirectRequests sends one signed PutObject over the client\'s agents', () => {
  it('puts the key path-style, URI-encoded, with Content-MD5, If-None-Match and metadata signed, and returns the unquoted ETag', async () => {
    let seen: IncomingMessage | undefined;
    let got = '';
    const url = await serve((req, res) => {
      seen = req;
      req.on('data', (c: Buffer) => (got += c.toString()));
      req.on('end', () => res.writeHead(200, { etag: '"abc"' }).end());
    });
    await expect(direct(url).put(request("dir/x y!(1)*'.bin"), body)).resolves.toEqual({ etag: 'abc' });
    expect(seen!.method).toBe('PUT');
    expect(seen!.url).toBe('/bucket/dir/x%20y%21%281%29%2A%27.bin');
    expect(got).toBe('hello');
    const h = seen!.headers;
    expect(h['content-md5']).toBe(request().contentMd5);
    expect(h['if-none-match']).toBe('*');
    expect(h['x-amz-meta-diskless-writer']).toBe('w1');
    expect(h['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(h.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=[^,]*content-md5;[^,]*if-none-match;[^,]*x-amz-meta-diskless-writer/);
  });

  it('turns an S3 error document into the StoreError of its code, message entities decoded', async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Reduce your &amp; rate &lt;now&gt;</Message></Error>');
    });
    const err: unknown = await direct(url).put(request(), body).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'retryable', code: 'SlowDown', status: 503, message: 'Reduce your & rate <now>' });
  });

  it('calls an HTML answer not S3 (a web server or proxy on the endpoint)', async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not here</body></html>');
    });
    await expect(direct(url).put(request(), body)).rejects.toMatchObject({ kind: 'not-s3', code: 'NotS3', status: 404 });
  });

  it('fails a request the server never answers within the request timeout, as a retryable TimeoutError', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    await expect(direct(url, 300).put(request(), body)).rejects.toMatchObject({ kind: 'retryable', code: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('fails at once, with the abort, when the caller\'s signal fires mid-request', async () => {
    const url = await serve(() => undefined);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    await expect(direct(url, 10_000).put(request(), body, abort.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('calls an answer cut off mid-body retryable (ECONNRESET) instead of waiting for the rest', async () => {
    const url = await serve((req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml', 'content-length': '1000' });
      res.write('<Error><Code>Internal');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await expect(direct(url, 10_000).put(request(), body)).rejects.toMatchObject({ kind: 'retryable', code: 'ECONNRESET' });
  });

  it('calls a refused connection retryable (ECONNREFUSED)', async () => {
    const url = await serve(() => undefined);
    server!.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(direct(url).put(request(), body)).rejects.toMatchObject({ kind: 'retryable', code: 'ECONNREFUSED' });
  });

  it('sends every key of a bucket, and every bucket, to its own path (the endpoint is kept per bucket, never per key)', async () => {
    const paths: string[] = [];
    const url = await serve((req, res) => {
      paths.push(req.url ?? '');
      req.resume().on('end', () => res.writeHead(200, { etag: '"e"' }).end());
    });
    const requests = direct(url);
    for (const [bucket, key] of [['one', 'a'], ['two', 'a'], ['one', 'b/c'], ['two', 'd']] as const) {
      await expect(requests.put({ ...request(key), bucket }, body)).resolves.toEqual({ etag: 'e' });
    }
    expect(paths).toEqual(['/one/a', '/two/a', '/one/b/c', '/two/d']);
  });

  it('resolves the endpoint again after a resolution that failed (it is not kept)', async () => {
    const url = await serve((req, res) => req.resume().on('end', () => res.writeHead(200, { etag: '"e"' }).end()));
    const transport = createHttpTransport({ endpointUrl: url });
    let asked = 0;
    const client = new S3Client({
      endpoint: url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      region: async () => {
        if (asked++ === 0) throw new Error('no region yet');
        return 'us-east-1';
      },
    });
    const requests = new DirectRequests(client, transport);
    await expect(requests.put(request(), body)).rejects.toThrow(/no region yet/);
    await expect(requests.put(request(), body)).resolves.toEqual({ etag: 'e' });
  });

  it.each([
    ['a multi-region access point (SigV4A)', 'arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap'],
    ['an S3 Express directory bucket (its session signature)', 'mybucket--use1-az4--x-s3'],
  ])('leaves to the SDK an endpoint that needs another signature: %s', async (_what, bucket) => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const transport = createHttpTransport();
    const requests = new DirectRequests(createS3Client({ region: 'us-east-1' }, transport), transport);
    await expect(requests.put({ ...request(), bucket }, body)).resolves.toBeUndefined();
    await expect(requests.get({ bucket, key: 'k' }, {})).resolves.toBeUndefined();
  });
});

describe('DirectRequests sends one signed GetObject and hands its body on as it arrives', () => {
  async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c));
    return Buffer.concat(chunks);
  }

  it('asks for the range, pinned to the ETag with If-Match (both signed), and returns the bytes, their size and the ETag', async () => {
    let seen: IncomingMessage | undefined;
    const url = await serve((req, res) => {
      seen = req;
      res.writeHead(206, { etag: '"e1"', 'content-length': '3' }).end('bcd');
    });
    const got = await direct(url).get({ bucket: 'bucket', key: 'dir/f 1' }, { start: 1, end: 3, ifMatch: 'e1' });
    expect(got).toMatchObject({ size: 3, etag: 'e1' });
    expect((await readAll(got!.body)).toString()).toBe('bcd');
    expect(seen!.method).toBe('GET');
    expect(seen!.url).toBe('/bucket/dir/f%201');
    expect(seen!.headers.range).toBe('bytes=1-3');
    expect(seen!.headers['if-match']).toBe('"e1"');
    expect(seen!.headers.authorization).toMatch(/SignedHeaders=[^,]*if-match;[^,]*range;/);
  });

  it('fails a missing key as NoSuchKey (which S3ObjectStore reads as no object) and a changed object (If-Match) as PreconditionFailed', async () => {
    const url = await serve((req, res) => {
      const missing = req.url!.endsWith('/missing');
      res.writeHead(missing ? 404 : 412, { 'content-type': 'application/xml' })
        .end(`<Error><Code>${missing ? 'NoSuchKey' : 'PreconditionFailed'}</Code><Message>m</Message></Error>`);
    });
    await expect(direct(url).get({ bucket: 'bucket', key: 'missing' }, {})).rejects.toMatchObject({ code: 'NoSuchKey', status: 404, kind: 'not-found' });
    await expect(direct(url).get({ bucket: 'bucket', key: 'changed' }, { ifMatch: 'old' })).rejects.toMatchObject({ code: 'PreconditionFailed', status: 412, kind: 'rejected' });
  });

  it('fails the read of a body cut off mid-way with a retryable StoreError, not a short read', async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { etag: '"e"', 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const got = await direct(url).get({ bucket: 'bucket', key: 'k' }, {});
    const err: unknown = await readAll(got!.body).catch((e: unknown) => e);
    expect(StoreError.is(err) && err.kind).toBe('retryable');
  });

  it('fails the read of a body that stops arriving within the request timeout, retryable', async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { etag: '"e"', 'content-length': '100000' });
      res.write(Buffer.alloc(1000));
    });
    const got = await direct(url, 300).get({ bucket: 'bucket', key: 'k' }, {});
    const started = Date.now();
    const err: unknown = await readAll(got!.body).catch((e: unknown) => e);
    expect(StoreError.is(err) && err.kind).toBe('retryable');
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('DirectRequests.getInto reads a range into the caller\'s buffer', () => {
  it('sends the signed range GET, pinned with If-Match, over its own connection, and returns the length and the ETag', async () => {
    let seen: IncomingMessage | undefined;
    const url = await serve((req, res) => {
      seen = req;
      res.writeHead(206, { etag: '"e1"', 'content-length': '4' }).end('bcde');
    });
    const into = Buffer.alloc(4);
    await expect(direct(url).getInto({ bucket: 'bucket', key: 'dir/f 1' }, into, { start: 1, end: 4, ifMatch: 'e1' })).resolves.toEqual({ length: 4, etag: 'e1' });
    expect(into.toString()).toBe('bcde');
    expect(seen!.url).toBe('/bucket/dir/f%201');
    expect(seen!.headers.range).toBe('bytes=1-4');
    expect(seen!.headers['if-match']).toBe('"e1"');
    expect(seen!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/.*SignedHeaders=[^,]*host;[^,]*if-match;[^,]*range;/);
  });

  it('asks for the first bytes with an explicit range too (bytes=0-N)', async () => {
    let range: string | undefined;
    const url = await serve((req, res) => {
      range = req.headers.range;
      res.writeHead(206, { etag: '"e"', 'content-length': '2' }).end('ab');
    });
    await direct(url).getInto({ bucket: 'bucket', key: 'k' }, Buffer.alloc(2), { start: 0, end: 1 });
    expect(range).toBe('bytes=0-1');
  });

  it('turns an error answer into the StoreError of its code, as get does', async () => {
    const url = await serve((req, res) => {
      const missing = req.url!.endsWith('/missing');
      res.writeHead(missing ? 404 : 412, { 'content-type': 'application/xml' })
        .end(`<Error><Code>${missing ? 'NoSuchKey' : 'PreconditionFailed'}</Code><Message>m</Message></Error>`);
    });
    const d = direct(url);
    await expect(d.getInto({ bucket: 'bucket', key: 'missing' }, Buffer.alloc(1), { start: 0, end: 0 })).rejects.toMatchObject({ code: 'NoSuchKey', status: 404 });
    await expect(d.getInto({ bucket: 'bucket', key: 'k' }, Buffer.alloc(1), { start: 0, end: 0, ifMatch: 'x' })).rejects.toMatchObject({ code: 'PreconditionFailed', status: 412 });
  });

  it('sends the GET again through Node\'s client when the answer is chunked, and copies the body in', async () => {
    let requests = 0;
    const url = await serve((req, res) => {
      requests++;
      res.writeHead(206, { etag: '"c"' }); // no length: Node's server sends it chunked
      res.write('ab');
      res.end('cd');
    });
    const into = Buffer.alloc(4);
    await expect(direct(url).getInto({ bucket: 'bucket', key: 'k' }, into, { start: 0, end: 3 })).resolves.toEqual({ length: 4, etag: 'c' });
    expect(into.toString()).toBe('abcd');
    expect(requests).toBe(2);
  });
});

describe('DirectRequests over HTTPS', () => {
  /** A throw-away self-signed certificate for 127.0.0.1 (openssl, as the test dependencies install it). */
  function selfSigned(): { key: Buffer; cert: Buffer } {
    const dir = mkdtempSync(join(tmpdir(), 'direct-put-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('sends the request over the transport\'s HTTPS agent, trusting what it trusts, and refuses a certificate it does not trust', async () => {
    const { key, cert } = selfSigned();
    let seen: IncomingMessage | undefined;
    server = createHttpsServer({ key, cert }, (req, res) => {
      seen = req;
      req.resume();
      req.on('end', () => res.writeHead(200, { etag: '"tls"' }).end());
    }) as unknown as Server;
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const endpointUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const conn = { endpointUrl, region: 'us-east-1' };
    const trusting = { ...createHttpTransport(conn), httpsAgent: new HttpsAgent({ keepAlive: true, ca: cert }) };
    await expect(new DirectRequests(createS3Client(conn, trusting), trusting).put(request(), body)).resolves.toEqual({ etag: 'tls' });
    expect(seen!.headers.host).toBe(new URL(endpointUrl).host);
    const plain = createHttpTransport(conn);
    const err: unknown = await new DirectRequests(createS3Client(conn, plain), plain).put(request(), body).catch((e: unknown) => e);
    expect(StoreError.is(err) && err).toMatchObject({ kind: 'rejected', message: expect.stringMatching(/self.signed certificate/i) });
  });

  it('reads a range into the caller\'s buffer over the HTTPS agent (copied: socket-http.ts reads plain HTTP only)', async () => {
    const { key, cert } = selfSigned();
    server = createHttpsServer({ key, cert }, (req, res) => res.writeHead(206, { etag: '"t"', 'content-length': '3' }).end('xyz')) as unknown as Server;
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    const conn = { endpointUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1' };
    const trusting = { ...createHttpTransport(conn), httpsAgent: new HttpsAgent({ keepAlive: true, ca: cert }) };
    const into = Buffer.alloc(3);
    await expect(new DirectRequests(createS3Client(conn, trusting), trusting).getInto({ bucket: 'b', key: 'k' }, into, { start: 0, end: 2 })).resolves.toEqual({ length: 3, etag: 't' });
    expect(into.toString()).toBe('xyz');
  });
});

describe('encodeKey', () => {
  it('encodes each segment as the SDK does (RFC 3986 unreserved kept, !\'()* encoded), keeping slashes', () => {
    expect(encodeKey("a b/c+d/!'()*/~._-/ü")).toBe('a%20b/c%2Bd/%21%27%28%29%2A/~._-/%C3%BC');
  });
});
