import { createHash } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { etagIsMd5 } from './etag.js';
import type { ObjectRef, WriteSettings } from './object-store.js';
import { retryWarning, withRetry } from './retry.js';
import { WRITER_METADATA, notOurs } from './owned-object.js';
import type { UploadContext } from './upload-context.js';

/**
 * An object written with one PutObject (a stream shorter than one part, a chain index): sent with
 * Content-MD5 inside a request slot, then checked with HeadObject (size, and the ETag where it is
 * an MD5). A mismatch is a VerificationError; the caller deletes what it stored.
 *
 * With `checkLater` (and ETags that are MD5s) the HeadObject is left to the caller, who checks the
 * object's size and ETag in a listing before it commits (VirtualFiles.verifyListed: one request per
 * 1,000 objects instead of one per object); the PutObject's own ETag is checked now. Returns
 * `checkLater: true` when it did so.
 */
export interface PutVerifiedOptions {
  /** Called as soon as the store has the object, before the check (so a failed check can delete it). */
  onStored?: () => void;
  /** The body's MD5 when the caller already has it. */
  md5?: Buffer;
  /** Only if the key holds no object yet (If-None-Match: *). */
  createOnly?: boolean;
  /** Leave the HeadObject to the caller's listing (above). */
  checkLater?: boolean;
}

export async function putVerified(
  ctx: UploadContext,
  target: ObjectRef,
  body: readonly Uint8Array[],
  settings: WriteSettings,
  signal: AbortSignal,
  options: PutVerifiedOptions = {},
): Promise<{ etag: string; size: number; checkLater?: true }> {
  const { onStored, createOnly = false, checkLater = false } = options;
  const md5 = options.md5 ?? body.reduce((h, b) => h.update(b), createHash('md5')).digest();
  const size = body.reduce((n, b) => n + b.length, 0);
  await ctx.requests.acquire(signal);
  let etag: string;
  try {
    ({ etag } = await withRetry(
      () =>
        ctx.store.putObject(
          { ...target, body, contentLength: size, contentMd5: md5.toString('base64'), settings, ...(createOnly ? { ifNoneMatch: true } : {}) },
          { signal },
        ),
      ctx.retry,
      { what: `PutObject ${target.key}`, signal, onRetry: (info) => ctx.log.warn(retryWarning(info)) },
    ));
  } finally {
    ctx.requests.release();
  }
  onStored?.();
  const expected = md5.toString('hex');
  // The store checked Content-MD5; its answer names what it stored. Anything but that MD5 (or no ETag) gets the HeadObject.
  if (checkLater && etagIsMd5(settings.sse) && etag === expected) return { etag, size, checkLater: true };
  const head = await withRetry(() => ctx.store.headObject(target, { signal }), ctx.retry, { what: `HeadObject ${target.key}`, signal });
  const writer = settings.metadata?.[WRITER_METADATA];
  const replaced = head && writer ? notOurs(head, { ...target, writer }) : undefined;
  if (replaced) throw new VerificationError(`verification of ${target.key} failed: another writer replaced it (${replaced}); this upload's data is not stored there`);
  if (!head || head.size !== size || (etagIsMd5(settings.sse) && head.etag !== expected)) {
    throw new VerificationError(
      `verification of ${target.key} failed: stored ${head ? `${head.size} bytes, ETag ${head.etag}` : 'nothing'}; ` +
        `sent ${size} bytes, MD5 ${expected}`,
    );
  }
  return { etag: head.etag || etag, size };
}
