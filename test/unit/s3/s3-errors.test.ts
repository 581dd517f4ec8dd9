import { describe, expect, it } from 'vitest';
import { fromHttpAnswer, toStoreError } from '../../../src/s3/s3-errors.js';
import { StoreError, describeStoreError, isRetryable } from '../../../src/store-error.js';

/** Shapes the AWS SDK v3 throws, as seen from RGW, from a web server and from the network. */
const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(extra['message'] as string ?? name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra });

describe('toStoreError maps the SDK\'s errors once to a typed store error', () => {
  it.each([
    ['SlowDown', 503, 'retryable'],
    ['InternalError', 500, 'retryable'],
    ['BadDigest', 400, 'checksum'],
    ['NoSuchKey', 404, 'not-found'],
    ['NoSuchUpload', 404, 'not-found'],
    ['NoSuchBucket', 404, 'no-bucket'],
    ['AccessDenied', 403, 'access'],
    ['InvalidAccessKeyId', 403, 'credentials'],
    ['SignatureDoesNotMatch', 403, 'credentials'],
    ['PermanentRedirect', 301, 'region'],
    ['InvalidPart', 400, 'rejected'],
    ['SomethingNew', 502, 'retryable'],
    ['SomethingNew', 409, 'rejected'],
  ] as const)('%s (%i) is %s', (name, status, kind) => {
    const e = toStoreError(sdk(name, status));
    expect(StoreError.is(e)).toBe(true);
    expect(e).toMatchObject({ kind, code: name, status });
  });

  it('names a bodiless answer (HEAD) after its status', () => {
    expect(toStoreError(sdk('Unknown', 403))).toMatchObject({ kind: 'access', code: 'Forbidden' });
    expect(toStoreError(sdk('NotFound', 404))).toMatchObject({ kind: 'not-found', code: 'NotFound' });
  });

  it('classifies connection failures and timeouts without a status as retryable', () => {
    for (const raw of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      Object.assign(new Error('outer'), { cause: Object.assign(new Error('inner'), { code: 'ETIMEDOUT' }) }),
      sdk('TimeoutError'),
    ]) {
      expect(isRetryable(toStoreError(raw))).toBe(true);
    }
  });

  it('says "not S3" for an HTML answer or XML the SDK cannot parse, and does not retry it', () => {
    const xml = sdk('Error', 501, { message: '@aws-sdk XML parse error: mismatched tags <meta> and </head>.\n  Deserialization error: …' });
    const html = sdk('NotFound', 404, { message: 'UnknownError', $response: { statusCode: 404, headers: { 'content-type': 'text/html;charset=utf-8' } } });
    for (const raw of [xml, html]) {
      const e = toStoreError(raw) as StoreError;
      expect(e.kind).toBe('not-s3');
      expect(e.retryable).toBe(false);
    }
    expect(describeStoreError(toStoreError(xml))).toMatch(/^NotS3 \(501\): the answer is not S3's XML \(@aws-sdk XML parse error/);
  });

  it('passes an abort through unchanged, so a cancelled request is not reported as a store failure', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toStoreError(abort)).toBe(abort);
  });

  it('does not call errors that are not store errors retryable', () => {
    expect(isRetryable(new Error('ECONNRESET'))).toBe(false);
  });
});

describe('fromHttpAnswer maps an error answer read off the wire (direct-requests.ts) as toStoreError maps the SDK\'s', () => {
  it.each([
    [503, '<Error><Code>SlowDown</Code><Message>slow</Message></Error>', 'retryable', 'SlowDown'],
    [400, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>BadDigest</Code></Error>', 'checksum', 'BadDigest'],
    [404, '<Error><Code>NoSuchBucket</Code></Error>', 'no-bucket', 'NoSuchBucket'],
    [412, '<Error><Code>PreconditionFailed</Code></Error>', 'rejected', 'PreconditionFailed'],
    [403, '', 'access', 'Forbidden'],
    [502, '', 'retryable', 'HTTP502'],
  ] as const)('%i %s is %s (%s)', (status, body, kind, code) => {
    expect(fromHttpAnswer(status, 'application/xml', body)).toMatchObject({ kind, code, status });
  });

  it('calls a body that is not an S3 error document not-s3, naming what came', () => {
    expect(fromHttpAnswer(502, 'text/plain', 'Bad gateway from the proxy\nmore')).toMatchObject({ kind: 'not-s3', message: expect.stringContaining('Bad gateway from the proxy') });
  });
});
