/**
 * A failed object-store request, in terms the upload and download code act on, whatever the
 * backend: src/s3/s3-errors.ts maps the AWS SDK's errors to it once (S3ObjectStore throws nothing
 * else), and other stores (the tests' in-memory one) throw it directly.
 *  - retryable: throttling, 5xx, timeouts, connection failures; a retry may cure it.
 *  - checksum: the store found the body damaged (BadDigest, IncompleteBody); sending it again cures it.
 *  - not-found: no such key or upload.        - no-bucket: no such bucket.
 *  - access: the credentials may not do this.  - credentials: the store does not accept the keys.
 *  - region: the bucket lives in another region.
 *  - not-s3: the endpoint answers HTTP, but not the S3 protocol (a web server, a proxy's error page).
 *  - rejected: any other refusal (a bad request, a precondition); a retry will not cure it.
 */
export type StoreErrorKind = 'retryable' | 'checksum' | 'not-found' | 'no-bucket' | 'access' | 'credentials' | 'region' | 'not-s3' | 'rejected';

const BRAND = Symbol.for('diskless.store-error');

export class StoreError extends Error {
  readonly kind: StoreErrorKind;
  /** The store's error code, e.g. `NoSuchBucket`, `SlowDown`, `ECONNREFUSED`. */
  readonly code: string;
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;

  constructor(kind: StoreErrorKind, code: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = code;
    this.status = options.status;
    Object.defineProperty(this, 'name', { value: code, enumerable: false, configurable: true });
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }

  /** Whether sending the same request again may succeed. */
  get retryable(): boolean {
    return this.kind === 'retryable' || this.kind === 'checksum';
  }

  /** Unlike `instanceof`, this works across module copies. */
  static is(value: unknown): value is StoreError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** The kind of the S3 error code `code` with HTTP status `status` (S3's codes are what every S3-compatible store speaks). */
export function kindOfCode(code: string, status: number | undefined): StoreErrorKind {
  const known = KINDS[code];
  if (known) return known;
  if (status === undefined) return 'rejected';
  if (status >= 500 || status === 429 || status === 408) return 'retryable';
  if (status === 404) return 'not-found';
  if (status === 403) return 'access';
  return 'rejected';
}

const KINDS: Record<string, StoreErrorKind> = {
  TimeoutError: 'retryable',
  RequestTimeout: 'retryable',
  RequestTimeoutException: 'retryable',
  SlowDown: 'retryable',
  Throttling: 'retryable',
  ThrottlingException: 'retryable',
  TooManyRequestsException: 'retryable',
  InternalError: 'retryable',
  ServiceUnavailable: 'retryable',
  BadDigest: 'checksum',
  XAmzContentSHA256Mismatch: 'checksum', // a signed body (CompleteMultipartUpload's XML) damaged on the way
  IncompleteBody: 'checksum',
  NoSuchKey: 'not-found',
  NoSuchUpload: 'not-found',
  NotFound: 'not-found',
  NoSuchBucket: 'no-bucket',
  AccessDenied: 'access',
  Forbidden: 'access',
  InvalidAccessKeyId: 'credentials',
  SignatureDoesNotMatch: 'credentials',
  PermanentRedirect: 'region',
  AuthorizationHeaderMalformed: 'region',
};

/** Whether a retry may cure `err`: only store errors that say so. */
export function isRetryable(err: unknown): boolean {
  return StoreError.is(err) && err.retryable;
}

/** One line naming a store error, e.g. `NoSuchBucket (404): The specified bucket does not exist`. */
export function describeStoreError(err: unknown): string {
  if (StoreError.is(err)) {
    const msg = err.message && err.message !== err.code ? `: ${err.message}` : '';
    return `${err.code}${err.status ? ` (${err.status})` : ''}${msg}`;
  }
  return err instanceof Error ? err.message || err.name : String(err);
}
