import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { UsageError } from '../errors.js';
import { SocketHttpPool } from './socket-http.js';

export interface S3ConnectionOptions {
  /** Custom endpoint (Ceph RGW, MinIO, R2, …); AWS when absent. */
  endpointUrl?: string;
  region?: string;
  /** Named profile of the shared AWS config files. */
  profile?: string;
  /** Path-style addressing; defaults to true for custom endpoints, false for AWS. */
  forcePathStyle?: boolean;
  /** A request whose connection makes no progress for this long fails (and may be retried). */
  requestTimeoutMs?: number;
  /** Connecting may take at most this long. */
  connectTimeoutMs?: number;
  /** Most connections kept open at once. */
  maxSockets?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** The connections every request of a session goes over, the SDK's and direct-requests.ts's alike. */
export interface HttpTransport {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  /** Connecting may take at most this long. */
  connectTimeoutMs: number;
  /** A request whose connection makes no progress for this long fails. */
  requestTimeoutMs: number;
  /** The plain-HTTP connections of GetObject into a buffer and one-piece PutObject (socket-http.ts). */
  sockets: SocketHttpPool;
  /** Closes the idle connections of all three. */
  close(): void;
}

/** Keep-alive agents (at most `maxSockets` connections, 16 by default) and the timeouts of `options`. */
export function createHttpTransport(options: S3ConnectionOptions = {}): HttpTransport {
  const maxSockets = options.maxSockets ?? 16;
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets });
  const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets });
  const sockets = new SocketHttpPool({ connectTimeoutMs, requestTimeoutMs, maxIdle: maxSockets });
  return {
    httpAgent,
    httpsAgent,
    connectTimeoutMs,
    requestTimeoutMs,
    sockets,
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
      sockets.close();
    },
  };
}

/**
 * The S3 client every command uses. Choices, with reasons:
 * - SDK retries off (maxAttempts 1): diskless retries itself with a deadline (retry.ts), and
 *   rebuilds streamed bodies for each attempt.
 * - Automatic checksums only when required: the SDK's default (CRC32 trailers with aws-chunked
 *   bodies) corrupts or fails on most S3-compatible stores (aws-sdk-js-v3#6810); diskless sends
 *   Content-MD5 on every body instead, which every store checks.
 * - No `Expect: 100-continue`: it makes the SDK's handler close the connection after each part.
 * - Keep-alive agents, idle-socket and connect timeouts: a store that stops answering fails the
 *   request instead of hanging it.
 */
export function createS3Client(options: S3ConnectionOptions = {}, transport: HttpTransport = createHttpTransport(options)): S3Client {
  const endpoint = options.endpointUrl;
  if (endpoint !== undefined) checkEndpoint(endpoint);
  const region =
    options.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? (endpoint ? 'us-east-1' : undefined);
  return new S3Client({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    expectContinueHeader: false,
    // The SDK would print its own warnings on the console (e.g. about streamed bodies it cannot
    // retry, which diskless retries itself); diskless reports every failure in its own words.
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    requestHandler: new NodeHttpHandler({
      connectionTimeout: transport.connectTimeoutMs,
      socketTimeout: transport.requestTimeoutMs,
      httpAgent: transport.httpAgent,
      httpsAgent: transport.httpsAgent,
    }),
  });
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--endpoint-url "${endpoint}" is not a URL; write it as http://host:port or https://host`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--endpoint-url "${endpoint}" must start with http:// or https://`);
  }
}
