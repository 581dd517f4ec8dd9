import type { S3Client } from '@aws-sdk/client-s3';
import { checkCredentials } from '../preflight.js';
import { createHttpTransport, createS3Client, type S3ConnectionOptions } from '../s3/s3-client.js';
import { S3ObjectStore } from '../s3/s3-object-store.js';
import { normaliseEndpoint } from '../s3/s3-url.js';
import type { ObjectStore } from '../upload/object-store.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../upload/retry.js';
import { throttledStore } from '../upload/throttled-store.js';
import { RateLimiter } from '../util/rate-limiter.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface SessionOptions {
  connection?: S3ConnectionOptions;
  retry?: Partial<RetryPolicy>;
  log?: Logger;
  /** Replaces the S3 store (tests, other backends); credentials are then not checked. */
  store?: ObjectStore;
  /** Bytes per second for all uploads of this session together (`--bwlimit`); unlimited when absent. */
  bwlimit?: number;
}

/** A store, its retry policy and logger, with credentials checked: what every command starts from. */
export interface Session {
  store: ObjectStore;
  retry: RetryPolicy;
  log: Logger;
  client?: S3Client;
  close(): void;
}

export async function openSession(options: SessionOptions, maxSockets?: number): Promise<Session> {
  const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const log = options.log ?? silentLogger;
  const limit = (s: ObjectStore): ObjectStore => (options.bwlimit ? throttledStore(s, new RateLimiter(options.bwlimit)) : s);
  if (options.store) return { store: limit(options.store), retry, log, close() {} };
  const conn = { ...options.connection, ...(maxSockets ? { maxSockets } : {}) };
  const transport = createHttpTransport(conn);
  const client = createS3Client(conn, transport);
  const store = limit(new S3ObjectStore(client, normaliseEndpoint(conn.endpointUrl ?? 'aws'), transport));
  try {
    await checkCredentials(client);
  } catch (err) {
    client.destroy();
    transport.close();
    throw err;
  }
  return {
    store,
    retry,
    log,
    client,
    close: () => {
      client.destroy();
      transport.close();
    },
  };
}
