import type { ReadContext } from '../download/object-reader.js';
import { WRITER_METADATA } from '../upload/owned-object.js';
import { withRetry } from '../upload/retry.js';
import { Limiter } from '../util/limiter.js';

/**
 * Splits keys no manifest vouches for (an incomplete backup, a resumed prune's list) into the
 * objects diskless wrote (HeadObject shows the `diskless-writer` id every diskless object carries)
 * and the others, which prune must leave alone: an object under a backup prefix may be the user's
 * own, and nothing diskless does may delete an object it cannot prove it wrote. Keys gone since the
 * listing are dropped.
 */
export async function writtenByDiskless(
  ctx: ReadContext,
  bucket: string,
  keys: readonly string[],
  signal?: AbortSignal,
): Promise<{ ours: string[]; foreign: string[] }> {
  const limiter = new Limiter(8);
  const heads = await Promise.all(
    keys.map(async (key) => {
      await limiter.acquire(signal);
      try {
        return await withRetry(() => ctx.store.headObject({ bucket, key }, signal ? { signal } : {}), ctx.retry, {
          what: `HeadObject ${key}`,
          ...(signal ? { signal } : {}),
        });
      } finally {
        limiter.release();
      }
    }),
  );
  const ours: string[] = [];
  const foreign: string[] = [];
  keys.forEach((key, i) => {
    const head = heads[i];
    if (!head) return;
    (head.metadata[WRITER_METADATA] ? ours : foreign).push(key);
  });
  return { ours, foreign };
}
