import { describeError } from '../errors.js';
import { StoreError } from '../store-error.js';
import { DELETE_BATCH, type ObjectStore } from '../upload/object-store.js';
import { withRetry, type RetryPolicy } from '../upload/retry.js';
import type { Logger } from '../util/log.js';

export interface DeleteFailure {
  key: string;
  code: string;
  message: string;
}

/**
 * Deletes keys with DeleteObjects, 1,000 per request, in the order given (so a chain's object 0
 * goes in the first batch). A key the store refuses (Object Lock retention, AccessDenied on a
 * write-only key) is reported and the rest go on. A store that does not take DeleteObjects at
 * all (501, or a 400 that is not about one key) gets single DeleteObject requests instead, from
 * then on.
 */
export class BatchDeleter {
  private single = false;

  constructor(
    private readonly ctx: { store: ObjectStore; retry: RetryPolicy; log: Logger },
    private readonly bucket: string,
    private readonly signal?: AbortSignal,
  ) {}

  async delete(keys: readonly string[]): Promise<{ deleted: number; failed: DeleteFailure[] }> {
    let deleted = 0;
    const failed: DeleteFailure[] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      if (!this.single) {
        try {
          const out = await withRetry(() => this.ctx.store.deleteObjects(this.bucket, batch, { signal: this.signal }), this.ctx.retry, {
            what: `DeleteObjects (${batch.length} keys)`,
            ...(this.signal ? { signal: this.signal } : {}),
          });
          deleted += out.deleted.length;
          failed.push(...out.errors);
          continue;
        } catch (err) {
          const cause = storeErrorIn(err);
          const status = cause?.status;
          if (status !== 501 && status !== 400) throw err;
          this.ctx.log.warn(`the store refused DeleteObjects (${describeError(err)}); deleting one object per request`);
          this.single = true;
        }
      }
      for (const key of batch) {
        try {
          await withRetry(() => this.ctx.store.deleteObject({ bucket: this.bucket, key }, { signal: this.signal }), this.ctx.retry, {
            what: `DeleteObject ${key}`,
            ...(this.signal ? { signal: this.signal } : {}),
          });
          deleted++;
        } catch (err) {
          if (this.signal?.aborted) throw err;
          failed.push({ key, code: storeErrorIn(err)?.code ?? 'Error', message: describeError(err) });
        }
      }
    }
    return { deleted, failed };
  }
}

/** The store's error itself, or the one a retry gave up on. */
function storeErrorIn(err: unknown): StoreError | undefined {
  if (StoreError.is(err)) return err;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return StoreError.is(cause) ? cause : undefined;
}
