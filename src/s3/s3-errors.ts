/** Reading errors of the AWS SDK and of the network: which ones a retry may cure. */

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

const RETRYABLE_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalError',
  'ServiceUnavailable',
  'BadDigest', // the bytes were damaged on the way: sending them again is the cure
  'XAmzContentSHA256Mismatch', // the same for a signed body (CompleteMultipartUpload's XML)
  'IncompleteBody',
]);

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function httpStatus(err: unknown): number | undefined {
  return (err as SdkLikeError | undefined)?.$metadata?.httpStatusCode;
}

export function errorName(err: unknown): string {
  const e = err as SdkLikeError | undefined;
  return e?.name ?? e?.Code ?? e?.code ?? 'Error';
}

/** true for throttling, 5xx, timeouts and connection failures; false for the caller's mistakes. */
export function isRetryable(err: unknown): boolean {
  for (let cur = err as SdkLikeError | undefined, depth = 0; cur && depth < 4; depth++) {
    if (cur.name && RETRYABLE_NAMES.has(cur.name)) return true;
    if (cur.code && RETRYABLE_CODES.has(cur.code)) return true;
    const status = cur.$metadata?.httpStatusCode;
    if (status !== undefined) return status >= 500 || status === 429 || status === 408;
    if (/socket hang up|ECONNRESET|ECONNREFUSED/i.test(cur.message ?? '')) return true;
    cur = cur.cause as SdkLikeError | undefined;
  }
  return false;
}

/** One line naming the S3 error, e.g. `NoSuchBucket (404): The specified bucket does not exist`. */
export function describeS3Error(err: unknown): string {
  const e = err as SdkLikeError | undefined;
  const status = httpStatus(err);
  const name = errorName(err);
  const msg = e?.message && e.message !== name && e.message !== 'UnknownError' ? `: ${e.message}` : '';
  return `${name}${status ? ` (${status})` : ''}${msg}`;
}
