import { request as httpRequest, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { SignatureV4 } from '@smithy/signature-v4';
import { copiedInto, type GetResult, type ObjectRef, type PutRequest, type WriteSettings } from '../upload/object-store.js';
import type { HttpTransport } from './s3-client.js';
import { unquoteEtag as unquote } from '../upload/etag.js';
import { fromHttpAnswer, mappedBody, MAX_ERROR_BODY, timedOut, toStoreError } from './s3-errors.js';
import type { SocketTarget } from './socket-http.js';
import { StoreError } from '../store-error.js';

/**
 * PutObject of a body in one piece (a small file of a run, a manifest, a chain index) and GetObject
 * (whole or ranged), sent without the SDK's middleware stack. Through the SDK a small PutObject costs
 * about 1.6 CPU-ms with the uploader's V8 flags; sent here, about 0.46 (bench/put-request-cost.mjs;
 * docs/BENCHMARKS.md, "Small files: PutObject without the middleware stack"), and trees of small files,
 * written or restored, are bound by the CPU per request.
 *
 * Nothing S3-specific is written again here: the endpoint is the SDK's own resolution for this bucket
 * and key (getEndpointFromInstructions: custom endpoints, path or virtual-host style, FIPS, dual-stack,
 * AWS_ENDPOINT_URL_S3), the credentials are the client's provider chain, the signature is the SDK's
 * SigV4 signer with S3's settings, the connections are the client's agents and timeouts, and an error
 * answer becomes the StoreError the SDK's error would have (s3-errors.ts). A PUT's body is signed
 * through its Content-MD5 (a signed header; the payload itself is UNSIGNED-PAYLOAD), which the store
 * checks; a GET's bytes are checked by the reader (CRC32C, pinned ETag). An endpoint that needs another
 * signature (S3 Express, multi-region access points) gets undefined: the caller sends that request
 * through the SDK.
 */
export class DirectRequests {
  private readonly endpoints = new Map<string, Promise<Endpoint | undefined>>();

  constructor(
    private readonly client: S3Client,
    private readonly transport: HttpTransport,
  ) {}

  /** PutObject: the object's ETag (unquoted), or undefined when this endpoint is not one it can sign for. */
  async put(req: PutRequest, body: Uint8Array, signal?: AbortSignal): Promise<{ etag: string } | undefined> {
    const headers: Record<string, string> = {
      'content-length': String(body.length),
      'content-md5': req.contentMd5,
      ...writeHeaders(req.settings),
      ...(req.ifNoneMatch ? { 'if-none-match': '*' } : {}),
    };
    const signed = await this.sign('PUT', req, PutObjectCommand, headers);
    if (!signed) return undefined;
    if (signed.url.protocol === 'http:') {
      const answer = await this.transport.sockets.put(socketTarget(signed), body, signal);
      if (answer.kind === 'unread') throw new StoreError('not-s3', 'NotS3', 'the answer to PutObject has a head over 64 KiB');
      // A PUT is not sent again (it was acted on): an answer whose body socket-http.ts does not read is decided by its head.
      if (answer.status >= 200 && answer.status < 300) return { etag: unquote(answer.headers['etag']) };
      throw socketError(answer.status, answer.headers, answer.kind === 'error' ? answer.body : '');
    }
    const answer = await this.send('PUT', signed, body, signal);
    return { etag: unquote(headerText(answer.headers.etag)) };
  }

  /**
   * GetObject of bytes `start` to `end` (inclusive; the whole object without them), only if its ETag is
   * still `ifMatch` (else a PreconditionFailed StoreError; a missing key is NoSuchKey): the answer, its
   * body as it arrives (read errors are StoreErrors). Undefined when this endpoint is not one it can sign for.
   */
  async get(ref: ObjectRef, opts: { start?: number; end?: number; ifMatch?: string; signal?: AbortSignal }): Promise<GetResult | undefined> {
    const signed = await this.sign('GET', ref, GetObjectCommand, getHeaders(opts));
    return signed && this.getSigned(signed, opts.signal);
  }

  /**
   * GetObject of bytes `start` to `end` (inclusive) into `into`, pinned to `ifMatch` as `get` is: the
   * answer's length and ETag (its bytes are in `into` only if they fit: a longer answer is not read).
   * Over plain HTTP the body is read straight into `into` (socket-http.ts); over HTTPS, or when the
   * answer is not one socket-http.ts reads, through Node's client and copied. Undefined when this endpoint
   * is not one it can sign for.
   */
  async getInto(
    ref: ObjectRef,
    into: Buffer,
    opts: { start: number; end: number; ifMatch?: string; signal?: AbortSignal },
  ): Promise<{ length: number; etag: string } | undefined> {
    const signed = await this.sign('GET', ref, GetObjectCommand, getHeaders(opts));
    if (!signed) return undefined;
    if (signed.url.protocol === 'http:') {
      const answer = await this.transport.sockets.get(socketTarget(signed), into, opts.signal);
      if (answer.kind === 'filled') return { length: answer.length, etag: unquote(answer.headers['etag']) };
      if (answer.kind === 'error') throw socketError(answer.status, answer.headers, answer.body);
    }
    // GET is idempotent: an answer socket-http.ts does not read is asked for again through Node's client.
    return copiedInto(await this.getSigned(signed, opts.signal), into);
  }

  /** A signed GetObject through Node's client: the body as it arrives. */
  private async getSigned(signed: Signed, signal?: AbortSignal): Promise<GetResult> {
    const answer = await this.send('GET', signed, undefined, signal);
    const length = Number(headerText(answer.headers['content-length']));
    return { body: mappedBody(answer), size: Number.isFinite(length) ? length : 0, etag: unquote(headerText(answer.headers.etag)) };
  }

  /** The signed request for `key` of `bucket` (the SDK's endpoint for `command`), or undefined when it needs another signature. */
  private async sign(method: string, ref: ObjectRef, command: EndpointCommand, extra: Record<string, string>): Promise<Signed | undefined> {
    try {
      const endpoint = await this.endpointFor(ref.bucket, command);
      if (!endpoint) return undefined;
      const { url, signer } = endpoint;
      const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extra, ...endpoint.headers };
      const path = `${url.pathname.replace(/\/$/, '')}/${encodeKey(ref.key)}`;
      const signed = await signer.sign(
        { method, protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path, query: {}, headers },
        { signingDate: new Date(Date.now() + (this.client.config.systemClockOffset ?? 0)) },
      );
      return { url, path: signed.path, headers: signed.headers };
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /**
   * The SDK's endpoint for `command` on `bucket`, and the signer for it (undefined when it needs another
   * signature), resolved once per bucket and command: a resolution is some 25 CPU-µs, a tenth of a small
   * file's PutObject. The key is not an input of S3's endpoint rules (the SDK caches its own S3
   * resolutions by bucket and client settings, not by key: client-s3's endpointResolver.js); it only
   * goes into the path. A failed resolution is not kept.
   */
  private endpointFor(bucket: string, command: EndpointCommand): Promise<Endpoint | undefined> {
    const id = `${command.name}\n${bucket}`;
    let endpoint = this.endpoints.get(id);
    if (!endpoint) {
      endpoint = this.resolve(bucket, command);
      this.endpoints.set(id, endpoint);
      endpoint.catch(() => this.endpoints.delete(id));
    }
    return endpoint;
  }

  private async resolve(bucket: string, command: EndpointCommand): Promise<Endpoint | undefined> {
    const config = this.client.config;
    const endpoint = await getEndpointFromInstructions({ Bucket: bucket, Key: '' }, command, config);
    const scheme = endpoint.properties?.['authSchemes'] as { name?: string; signingName?: string; signingRegion?: string }[] | undefined;
    const auth = scheme?.[0];
    if (auth && auth.name !== 'sigv4') return undefined;
    const url = endpoint.url;
    if (url.search !== '') return undefined;
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(endpoint.headers ?? {})) headers[name.toLowerCase()] = values.join(',');
    const region = auth?.signingRegion ?? (await config.region());
    // S3's signing settings, as the SDK's S3 client sets them: paths are not escaped twice.
    const signer = new SignatureV4({ credentials: config.credentials, region, service: auth?.signingName ?? 's3', sha256: config.sha256, uriEscapePath: false, applyChecksum: false });
    return { url, headers, signer };
  }

  /**
   * One request over the client's agents; resolves with a 2xx answer (a PUT's read to its end, a GET's
   * still to be read), rejects with a StoreError (or the abort).
   */
  private send(method: 'PUT' | 'GET', signed: Signed, body: Uint8Array | undefined, signal?: AbortSignal): Promise<IncomingMessage> {
    const { url, path, headers } = signed;
    const { transport } = this;
    const https = url.protocol === 'https:';
    return new Promise<IncomingMessage>((resolve, reject) => {
      const fail = (err: unknown) => reject(toStoreError(err));
      let req: ClientRequest;
      try {
        req = (https ? httpsRequest : httpRequest)({
          method,
          host: hostOf(url),
          ...(url.port ? { port: Number(url.port) } : {}),
          path,
          headers,
          agent: https ? transport.httpsAgent : transport.httpAgent,
          ...(signal ? { signal } : {}),
        });
      } catch (err) {
        fail(err);
        return;
      }
      const timeout = (what: string, ms: number) => req.destroy(timedOut(what, ms));
      req.setTimeout(transport.requestTimeoutMs, () => timeout('the request', transport.requestTimeoutMs));
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(() => timeout('connecting', transport.connectTimeoutMs), transport.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.on('error', fail);
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        // A connection cut mid-answer is an error here (ECONNRESET, "aborted"); once settled it changes
        // nothing, and a GET's reader gets it from the body.
        res.on('error', fail);
        if (status >= 200 && status < 300) {
          if (method === 'GET') return resolve(res);
          res.once('end', () => resolve(res));
          res.resume();
          return;
        }
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          if (length < MAX_ERROR_BODY) chunks.push(chunk);
          length += chunk.length;
        });
        res.once('end', () => {
          const text = Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8');
          reject(fromHttpAnswer(status, headerText(res.headers['content-type']) ?? '', text));
        });
      });
      req.end(body);
    });
  }
}

/** Where socket-http.ts sends a signed request. */
function socketTarget({ url, path, headers }: Signed): SocketTarget {
  return { host: hostOf(url), port: url.port ? Number(url.port) : 80, path, headers };
}

/** The host to connect to: an IPv6 address without its brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** The StoreError of an error answer socket-http.ts read. */
function socketError(status: number, headers: Record<string, string>, body: string): StoreError {
  return fromHttpAnswer(status, headers['content-type'] ?? '', body);
}

/** The Range and If-Match headers of a GetObject. */
function getHeaders(opts: { start?: number; end?: number; ifMatch?: string }): Record<string, string> {
  const range = byteRange(opts);
  return { ...(range ? { range } : {}), ...(opts.ifMatch ? { 'if-match': `"${opts.ifMatch}"` } : {}) };
}

/** The HTTP headers of the write settings (the SDK's StorageClass, ServerSideEncryption, SSEKMSKeyId, ContentType, Metadata). */
function writeHeaders(s: WriteSettings): Record<string, string> {
  const headers: Record<string, string> = {};
  if (s.storageClass) headers['x-amz-storage-class'] = s.storageClass;
  if (s.sse) headers['x-amz-server-side-encryption'] = s.sse;
  if (s.sseKmsKeyId) headers['x-amz-server-side-encryption-aws-kms-key-id'] = s.sseKmsKeyId;
  if (s.contentType) headers['content-type'] = s.contentType;
  for (const [name, value] of Object.entries(s.metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  return headers;
}

/** A key as the SDK puts it in the path: each segment URI-encoded, `!'()*` too; slashes kept. */
export function encodeKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The Range header of bytes `start` to `end` (inclusive; to the end without `end`), or undefined for the whole object. */
export function byteRange(opts: { start?: number; end?: number }): string | undefined {
  return opts.start || opts.end !== undefined ? `bytes=${opts.start ?? 0}-${opts.end ?? ''}` : undefined;
}

/** Where a bucket's requests go, and how they are signed. */
interface Endpoint {
  url: URL;
  /** The endpoint's own headers (lower-case names). */
  headers: Record<string, string>;
  signer: SignatureV4;
}

interface Signed {
  url: URL;
  path: string;
  headers: OutgoingHttpHeaders;
}

/** What getEndpointFromInstructions needs of a command class: its endpoint parameter instructions. */
type EndpointCommand = typeof PutObjectCommand | typeof GetObjectCommand;
