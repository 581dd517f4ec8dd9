import { describeError } from '../errors.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { Logger } from '../util/log.js';
import { chainIndexKey } from './chain.js';
import type { ObjectHead, ObjectRef, ObjectStore } from './object-store.js';
import { withRetry, type RetryPolicy } from './retry.js';

/**
 * Metadata every object diskless writes carries: a random id of the stream that wrote it (kept by
 * server-side copies). With the ETag it is diskless's proof that the object at a key is the one it
 * wrote, and not another writer's that replaced it since.
 */
export const WRITER_METADATA = 'diskless-writer';

/**
 * An object diskless may delete: one this process wrote (its writer id, and its ETag when known),
 * or one a manifest being replaced recorded (its ETag there).
 */
export interface OwnedRef extends ObjectRef {
  writer?: string;
  /** Compared with HeadObject's when given (not for SSE-KMS objects, whose ETags are not MD5s). */
  etag?: string;
}

/** Why the object found at a key is not `own` (another writer's, or changed), or undefined when it is. */
export function notOurs(head: ObjectHead, own: OwnedRef): string | undefined {
  if (own.writer === undefined && !own.etag) return 'nothing proves which object it is';
  const writer = head.metadata[WRITER_METADATA];
  if (own.writer !== undefined && writer !== own.writer) {
    return writer ? `it was written by another diskless upload (writer ${writer})` : 'it was written by another program';
  }
  if (own.etag && head.etag !== own.etag) return `its ETag is ${head.etag}, not ${own.etag}`;
  return undefined;
}

export interface DeleteDeps {
  store: ObjectStore;
  retry: RetryPolicy;
  log: Logger;
}

export type DeleteOutcome = 'deleted' | 'absent' | 'not-ours';

/**
 * Deletes `own` only if the object at its key is provably the one this process wrote: HeadObject
 * just before the delete must show this writer's id (and ETag). An object another writer stored
 * there since is reported and left alone. (Ceph RGW 16 ignores If-Match on DeleteObject, so the
 * check is a HeadObject; the window between the two requests is a few milliseconds.)
 */
export async function deleteOwnObject(deps: DeleteDeps, own: OwnedRef, signal?: AbortSignal): Promise<DeleteOutcome> {
  const ref = { bucket: own.bucket, key: own.key };
  const head = await withRetry(() => deps.store.headObject(ref, signal ? { signal } : {}), deps.retry, { what: `HeadObject ${own.key}`, ...(signal ? { signal } : {}) });
  if (!head) return 'absent';
  const why = notOurs(head, own);
  if (why) {
    deps.log.warn(`left ${formatS3Url(ref)} alone: ${why}, so it is not the object this run wrote`);
    return 'not-ours';
  }
  await withRetry(() => deps.store.deleteObject(ref, signal ? { signal } : {}), deps.retry, { what: `DeleteObject ${own.key}`, ...(signal ? { signal } : {}) });
  return 'deleted';
}

/**
 * The one way to remove a stream diskless stored (a file of a run, an archive, a put's object):
 * object 0 first, so the key disappears at once, then a chain's continuations and its index; each
 * only if it is still this writer's. Throws the first failure after trying every piece.
 */
export async function deleteStoredStream(deps: DeleteDeps, objects: readonly OwnedRef[]): Promise<void> {
  const first = objects[0];
  if (!first) return;
  const pieces: OwnedRef[] = [...objects];
  // The index carries the writer id; a recorded chain (no writer id) keeps its index: nothing proves it.
  if (objects.length > 1 && first.writer !== undefined) pieces.push({ bucket: first.bucket, key: chainIndexKey(first.key), writer: first.writer });
  let failure: unknown;
  for (const piece of pieces) {
    try {
      await deleteOwnObject(deps, piece);
    } catch (err) {
      deps.log.warn(`could not delete ${formatS3Url(piece)}: ${describeError(err)}`);
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}
