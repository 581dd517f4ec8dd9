/** The AWS SDK's and the network's errors, mapped once to StoreError (src/store-error.ts). */
import { StoreError, kindOfCode } from '../store-error.js';

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
  cause?: unknown;
}

const RETRYABLE_NETWORK_CODES = new Set([
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

/** How much of an error answer is read for its code and message (direct-requests.ts, socket-http.ts). */
export const MAX_ERROR_BODY = 64 * 1024;

/** A request that made no progress for `ms` (retryable, as the SDK's TimeoutError is). */
export function timedOut(what: string, ms: number): StoreError {
  return new StoreError('retryable', 'TimeoutError', `${what} timed out after ${ms} ms`);
}

const BODYLESS_CODES: Record<number, string> = { 301: 'PermanentRedirect', 400: 'BadRequest', 403: 'Forbidden', 404: 'NotFound' };

export function httpStatus(err: unknown): number | undefined {
  if (StoreError.is(err)) return err.status;
  return (err as SdkLikeError | undefined)?.$metadata?.httpStatusCode;
}

/**
 * The StoreError for anything a request through the SDK threw. An abort (the caller's signal)
 * is passed through unchanged, as are errors that already are StoreErrors.
 */
export function toStoreError(err: unknown): unknown {
  if (StoreError.is(err)) return err;
  const e = err as SdkLikeError | undefined;
  if (!e || typeof e !== 'object') return new StoreError('rejected', 'Error', String(err));
  if (e.name === 'AbortError') return err;
  const status = e.$metadata?.httpStatusCode;
  let name = e.name && e.name !== 'Error' ? e.name : (e.Code ?? e.code ?? 'Error');
  // A HEAD's error has no body, so no code: name it after its status.
  if (status !== undefined && /^(Unknown|UnknownError|Error)$/.test(name)) name = BODYLESS_CODES[status] ?? `HTTP${status}`;
  const message = e.message && e.message !== 'UnknownError' ? e.message : '';
  if (status !== undefined && speaksNoS3(e)) {
    return new StoreError('not-s3', 'NotS3', `the answer is not S3's XML (${firstLine(message) || contentType(e) || 'unreadable'})`, {
      status,
      cause: err,
    });
  }
  // Network failures have no status; their code may sit on a cause.
  for (let cur: SdkLikeError | undefined = e, depth = 0; cur && status === undefined && depth < 4; depth++) {
    if (cur.code && RETRYABLE_NETWORK_CODES.has(cur.code)) return new StoreError('retryable', cur.code, message || cur.code, { cause: err });
    if (/socket hang up|ECONNRESET|ECONNREFUSED/i.test(cur.message ?? '')) return new StoreError('retryable', name, message, { cause: err });
    cur = cur.cause as SdkLikeError | undefined;
  }
  return new StoreError(kindOfCode(name, status), name, message, { ...(status !== undefined ? { status } : {}), cause: err });
}

/** An HTTP answer that is not S3: HTML instead of XML, or XML the SDK cannot parse. */
function speaksNoS3(e: SdkLikeError): boolean {
  if (/XML parse error|Deserialization error|Expected closing tag|char '.' is not expected/i.test(e.message ?? '')) return true;
  return /^text\/html/i.test(contentType(e));
}

function contentType(e: SdkLikeError): string {
  return e.$response?.headers?.['content-type'] ?? '';
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

/** A response body whose read errors (a connection cut mid-way, a timeout) are StoreErrors too; the abort passes as it is. */
export async function* mappedBody(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (err) {
    throw toStoreError(err);
  }
}

/**
 * The StoreError for an S3 error answer read off the wire (direct-requests.ts): the `<Code>` and
 * `<Message>` of its XML, classified as an SDK error with that code and status would be. An answer
 * that is not S3's XML (an HTML page, a proxy's text) is `not-s3`; an empty one is named after its status.
 */
export function fromHttpAnswer(status: number, contentType: string, body: string): StoreError {
  const code = xmlText(body, 'Code');
  const message = xmlText(body, 'Message') ?? '';
  if (code === undefined && body.trim() !== '') {
    const what = /^text\/html/i.test(contentType) ? contentType : firstLine(body).slice(0, 120);
    return new StoreError('not-s3', 'NotS3', `the answer is not S3's XML (${what || 'unreadable'})`, { status });
  }
  const name = code ?? BODYLESS_CODES[status] ?? `HTTP${status}`;
  return new StoreError(kindOfCode(name, status), name, message, { status });
}

const XML_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The text of the first `<tag>` element of an S3 error document, entities decoded. */
function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1]!.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-f]+|#\d+);/gi, (all, e: string) => {
    if (e[0] !== '#') return XML_ENTITIES[e.toLowerCase()] ?? all;
    const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return n <= 0x10ffff ? String.fromCodePoint(n) : all;
  });
}
