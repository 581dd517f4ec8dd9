import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError, describeStoreError as describeS3Error, isRetryable } from '../store-error.js';
import { DisklessError, UploadError } from '../errors.js';

export interface RetryPolicy {
  /** Keep retrying a failing request for at most this long, then fail. */
  retryForMs: number;
  /** First backoff delay; doubles each attempt, with jitter. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retryForMs: 60_000, baseDelayMs: 250, maxDelayMs: 8_000 };

/**
 * Attempts in a row whose body the store refused for its checksum (BadDigest) before giving up, whatever the time
 * left: damage on the way is cured by sending again, but a refusal that repeats is not damage.
 */
export const CHECKSUM_ATTEMPTS = 3;

/** A failed attempt that will be retried: `reason` names the error as the store gave it. */
export interface RetryInfo {
  what: string;
  attempt: number;
  delayMs: number;
  error: unknown;
  reason: string;
}

/** The warning line for a retried request: which request, which attempt, and why. */
export function retryWarning(info: RetryInfo): string {
  return `${info.what}: attempt ${info.attempt} failed (${info.reason}); retrying in ${info.delayMs} ms`;
}

export interface RetryContext {
  /** What the request is, for messages: "UploadPart 3 of backups/db.sql". */
  what: string;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
  /** Overrides the default classification (tests, special cases). */
  retryable?: (err: unknown) => boolean;
}

/**
 * Runs `op` until it succeeds, fails with an error a retry cannot cure, or the policy's time is
 * spent. Together with the client's idle and connect timeouts this bounds how long any request
 * can take: a store that is down makes the run fail, never hang.
 */
export async function withRetry<T>(
  op: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  ctx: RetryContext,
): Promise<T> {
  const started = Date.now();
  const retryable = ctx.retryable ?? isRetryable;
  let refusedChecksums = 0;
  for (let attempt = 1; ; attempt++) {
    ctx.signal?.throwIfAborted();
    try {
      return await op(attempt);
    } catch (err) {
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      if (!retryable(err)) {
        if (DisklessError.is(err)) throw err;
        throw new UploadError(`${ctx.what} failed: ${describeS3Error(err)}`, { cause: err });
      }
      refusedChecksums = StoreError.is(err) && err.kind === 'checksum' ? refusedChecksums + 1 : 0;
      if (refusedChecksums >= CHECKSUM_ATTEMPTS) {
        throw new UploadError(
          `${ctx.what}: the store refused the body's checksum ${refusedChecksums} times in a row (${describeS3Error(err)}), giving up: ` +
            'the bytes were damaged on the way each time, or the store does not compute the checksum as S3 does',
          { cause: err },
        );
      }
      const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(exp / 2 + Math.random() * (exp / 2));
      const elapsed = Date.now() - started;
      if (elapsed + delayMs > policy.retryForMs) {
        throw new UploadError(
          `${ctx.what} failed ${attempt} time${attempt > 1 ? 's' : ''} in ${(elapsed / 1000).toFixed(1)} s, giving up: ${describeS3Error(err)}`,
          { cause: err },
        );
      }
      ctx.onRetry?.({ what: ctx.what, attempt, delayMs, error: err, reason: describeS3Error(err) });
      await sleep(delayMs, undefined, ctx.signal ? { signal: ctx.signal } : {});
    }
  }
}
