import { describe, expect, it } from 'vitest';
import { UploadError } from '../../../src/errors.js';
import { withRetry } from '../../../src/upload/retry.js';
import { StoreError } from '../../../src/store-error.js';
import { FakeS3Error } from '../../fakes/memory-object-store.js';

const fast = { retryForMs: 1_000, baseDelayMs: 1, maxDelayMs: 5 };

describe('withRetry', () => {
  it('retries throttling, 5xx, damaged bodies and connection errors until the request succeeds', async () => {
    const errors = [
      new FakeS3Error('SlowDown', 503),
      new FakeS3Error('BadDigest', 400),
      new FakeS3Error('InternalError', 500),
      new StoreError('retryable', 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'),
      new StoreError('retryable', 'TimeoutError', 'socket timed out'),
    ];
    let calls = 0;
    const result = await withRetry(
      async () => {
        const e = errors[calls++];
        if (e) throw e;
        return 'ok';
      },
      fast,
      { what: 'op' },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(6);
  });

  it('gives up after three attempts in a row refused for their checksum (BadDigest), long before the retry time ends', async () => {
    let calls = 0;
    const started = Date.now();
    const err = await withRetry(
      async () => {
        calls++;
        throw new FakeS3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.');
      },
      { retryForMs: 60_000, baseDelayMs: 1, maxDelayMs: 5 },
      { what: 'UploadPart 2 of k' },
    ).catch((e) => e);
    expect(calls).toBe(3);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(UploadError);
    expect(String(err)).toMatch(/UploadPart 2 of k: the store refused the body's checksum 3 times in a row \(BadDigest \(400\)/);
  });

  it('does not retry what the caller got wrong, and names the request and the S3 error', async () => {
    let calls = 0;
    const err = await withRetry(
      async () => {
        calls++;
        throw new FakeS3Error('NoSuchBucket', 404, 'The specified bucket does not exist');
      },
      fast,
      { what: 'UploadPart 3 of k' },
    ).catch((e) => e);
    expect(calls).toBe(1);
    expect(err).toBeInstanceOf(UploadError);
    expect(err.message).toBe('UploadPart 3 of k failed: NoSuchBucket (404): The specified bucket does not exist');
  });

  it('gives up once the retry time is spent, saying how often and how long it tried', async () => {
    const started = Date.now();
    const err = await withRetry(
      async () => {
        throw new FakeS3Error('ServiceUnavailable', 503);
      },
      { retryForMs: 200, baseDelayMs: 20, maxDelayMs: 40 },
      { what: 'PutObject k' },
    ).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.message).toMatch(/^PutObject k failed \d+ times in 0\.\d s, giving up: ServiceUnavailable \(503\)$/);
  });

  it('stops at once when the signal aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = withRetry(
      async () => {
        calls++;
        if (calls === 2) controller.abort(new Error('cancelled'));
        throw new FakeS3Error('InternalError', 500);
      },
      { retryForMs: 10_000, baseDelayMs: 5, maxDelayMs: 5 },
      { what: 'op', signal: controller.signal },
    );
    await expect(p).rejects.toThrow('cancelled');
    expect(calls).toBe(2);
  });
});
