import { Crc32c, crc32cCombine, crc32cToHex } from '../checksum/crc32c.js';
import { OffThreadSha256 } from '../checksum/sha256-worker.js';
import type { AgeDecryptor } from '../crypto/age-stream.js';
import { DisklessError, PreflightError, VerificationError, describeError } from '../errors.js';
import { notS3, storeErrorOf } from '../preflight.js';
import { formatS3Url } from '../s3/s3-url.js';
import { CHAIN_ID_METADATA, chainIndexKey, parseChainIndex, type ChainIndex } from '../upload/chain.js';
import type { ObjectRef, ObjectStore } from '../upload/object-store.js';
import { withRetry, type RetryPolicy } from '../upload/retry.js';
import type { Logger } from '../util/log.js';
import { readRanged } from '../verify/ranged-reader.js';

export interface ReadContext {
  store: ObjectStore;
  retry: RetryPolicy;
  log: Logger;
}

export interface DownloadResult extends ObjectRef {
  size: number;
  objects: number;
  crc32c: string;
  elapsedMs: number;
}

interface Piece extends ObjectRef {
  size: number;
  etag: string;
  crc32c?: string;
}

/**
 * Writes what `put` stored at `ref` to `out`: one object, or every object of a chain in order
 * (chain.ts). A download cut off mid-way resumes where it stopped with a ranged GET pinned to
 * the same ETag; every object's size, and a chain's CRC32C, are checked, and the CRC32C and
 * SHA-256 of the whole stream when `expected` gives them (from put's manifest). With `decrypt`,
 * the (checked) ciphertext goes through it and only authenticated plaintext is written.
 */
export async function downloadObject(
  ctx: ReadContext,
  ref: ObjectRef,
  out: NodeJS.WritableStream,
  signal?: AbortSignal,
  expected: { crc32c?: string; sha256?: string } = {},
  decrypt?: AgeDecryptor,
  /** Told the size of each chunk read (progress lines). */
  onBytes?: (n: number) => void,
): Promise<DownloadResult> {
  const started = Date.now();
  const { pieces, chain } = await locate(ctx, ref, signal);
  let whole = 0;
  // SHA-256 (about 2 s per GiB) on a worker thread, beside the reads, as verify --deep does.
  const sha = expected.sha256 ? new OffThreadSha256() : undefined;
  let size = 0;
  let digest: string | undefined;
  try {
    for (const piece of pieces) {
      const crc = new Crc32c();
      await copyPiece(ctx, piece, out, async (chunk) => {
        crc.update(chunk);
        await sha?.update(chunk);
        onBytes?.(chunk.length);
      }, signal, decrypt);
      if (piece.crc32c && crc.hex() !== piece.crc32c) {
        throw new VerificationError(`${formatS3Url(piece)}: CRC32C ${crc.hex()} differs from the recorded ${piece.crc32c}`);
      }
      whole = crc32cCombine(whole, crc.digest(), piece.size);
      size += piece.size;
    }
    digest = await sha?.hex();
  } finally {
    if (digest === undefined) await sha?.close();
  }
  const wholeHex = crc32cToHex(whole);
  if (chain && wholeHex !== chain.crc32c) {
    throw new VerificationError(`${formatS3Url(ref)}: CRC32C of the chain is ${wholeHex}, the index says ${chain.crc32c}`);
  }
  if (expected.crc32c && wholeHex !== expected.crc32c) {
    throw new VerificationError(`${formatS3Url(ref)}: CRC32C ${wholeHex}, its manifest says ${expected.crc32c}`);
  }
  if (digest && digest !== expected.sha256) throw new VerificationError(`${formatS3Url(ref)}: SHA-256 ${digest}, its manifest says ${expected.sha256}`);
  if (decrypt) for (const b of await decrypt.finish()) await writeOut(out, b);
  return { ...ref, size, objects: pieces.length, crc32c: wholeHex, elapsedMs: Date.now() - started };
}

async function locate(ctx: ReadContext, ref: ObjectRef, signal?: AbortSignal): Promise<{ pieces: Piece[]; chain?: ChainIndex }> {
  const head = await withRetry(() => ctx.store.headObject(ref, { signal }), ctx.retry, { what: `HeadObject ${ref.key}`, signal }).catch(
    (err: unknown) => {
      throw refusal(err, ref, ctx.store) ?? err;
    },
  );
  if (!head) throw await whyMissing(ctx, ref, signal);
  const chainId = head.metadata[CHAIN_ID_METADATA];
  if (chainId) {
    const indexRef = { bucket: ref.bucket, key: chainIndexKey(ref.key) };
    const text = await readSmallObject(ctx, indexRef, signal);
    if (text !== undefined) {
      const chain = parseChainIndex(text, formatS3Url(indexRef));
      if (chain.chainId === chainId) {
        const pieces = chain.objects.map((o, i) => ({
          bucket: ref.bucket,
          key: o.key,
          size: o.size,
          etag: i === 0 ? head.etag : o.etag,
          crc32c: o.crc32c,
        }));
        if (pieces[0]!.size !== head.size) {
          throw new VerificationError(`${formatS3Url(ref)} holds ${head.size} bytes, its chain index says ${pieces[0]!.size}`);
        }
        return { pieces, chain };
      }
      ctx.log.debug(`ignoring ${indexRef.key}: it belongs to another upload`);
    }
  }
  return { pieces: [{ ...ref, size: head.size, etag: head.etag }] };
}

/** HeadObject's 404 has no body: a GET tells a missing bucket from a missing key. */
async function whyMissing(ctx: ReadContext, ref: ObjectRef, signal?: AbortSignal): Promise<PreflightError> {
  const err = await ctx.store.getObject(ref, { signal }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (storeErrorOf(err)?.kind === 'no-bucket') {
    return new PreflightError(`bucket "${ref.bucket}" does not exist (NoSuchBucket); check the URL and --endpoint-url`);
  }
  return new PreflightError(`${formatS3Url(ref)} does not exist (NoSuchKey); check the key (and --endpoint-url)`);
}

/** The store's refusal to read `ref`, as a preflight failure (exit 3: nothing was read). */
function refusal(err: unknown, ref: ObjectRef, store: ObjectStore): PreflightError | undefined {
  const cause = storeErrorOf(err);
  if (cause?.kind === 'not-s3') return notS3(cause, store, err);
  if (cause?.kind === 'access') return new PreflightError(`access denied reading ${formatS3Url(ref)} (${cause.code}); the credentials need s3:GetObject (or are not valid: a HEAD request cannot tell)`, { cause: err });
  if (cause?.kind === 'credentials') return new PreflightError(`the store does not accept these credentials (${cause.code}); check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or --profile`, { cause: err });
  return undefined;
}

/** The text of a small object (a manifest, an index), or undefined when it does not exist. */
export async function readSmallObject(ctx: ReadContext, ref: ObjectRef, signal?: AbortSignal): Promise<string | undefined> {
  return withRetry(
    async () => {
      const got = await ctx.store.getObject(ref, { signal });
      if (!got) return undefined;
      const chunks: Buffer[] = [];
      for await (const c of got.body) chunks.push(Buffer.from(c));
      return Buffer.concat(chunks).toString('utf8');
    },
    ctx.retry,
    { what: `GetObject ${ref.key}`, signal },
  );
}

/**
 * Copies one object to `out` in order, read with ranged GETs in flight (verify/ranged-reader.ts,
 * the reader verify and restore use: each range pinned to the ETag, a failed range retried whole;
 * one GET stream is bound by one connection's rate, issue 13).
 */
async function copyPiece(
  ctx: ReadContext,
  piece: Piece,
  out: NodeJS.WritableStream,
  onChunk: (chunk: Uint8Array) => void | Promise<void>,
  signal?: AbortSignal,
  decrypt?: AgeDecryptor,
): Promise<void> {
  let received = 0;
  // Each range comes in one reused buffer (no socket chunks held until their turn): it must be
  // written out, not just queued, before the next is asked for.
  for await (const chunk of readRanged(ctx, piece, signal ? { signal } : {})) {
    received += chunk.length;
    await onChunk(chunk);
    // Decrypted, only what authenticates is written (the decryptor keeps no input chunk).
    if (!decrypt) await writeOut(out, chunk, { flushed: true });
    else for (const b of await decrypt.push(chunk)) await writeOut(out, b);
  }
  if (received !== piece.size) {
    throw new VerificationError(`${formatS3Url(piece)}: read ${received} bytes, expected ${piece.size}`);
  }
}

/** The output cannot be written (e.g. EPIPE: the program reading it exited). */
export class OutputClosedError extends DisklessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('producer', message, options);
  }
}

/**
 * Writes with backpressure; a closed output (EPIPE) fails the download at once. With `flushed`,
 * resolves only once the stream has written `chunk` (its callback), so the caller may reuse it.
 */
export async function writeOut(out: NodeJS.WritableStream, chunk: Uint8Array, how: { flushed?: boolean } = {}): Promise<void> {
  // Closed while we were not writing (a reader gone during a GET: its EPIPE destroyed the socket):
  // a destroyed stream emits no 'drain', 'error' or 'close' any more, so waiting would never end.
  const gone = destroyedError(out);
  if (gone) throw closed(gone);
  let settle!: (err?: Error | null) => void;
  const written = how.flushed ? new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(closed(err)) : resolve()))) : undefined;
  const ready = written ? out.write(chunk, settle) : out.write(chunk);
  if (ready && !written) return;
  // Our own writes wait for each other: once this one is written, nothing else is queued.
  const watch = watchOutput(out, written ? undefined : 'drain');
  try {
    await Promise.race(written ? [written, watch.failed] : [watch.failed]);
  } finally {
    watch.stop();
    written?.catch(() => undefined);
  }
}

/** Why `out` can take no more writes, if it was destroyed: its error, or ERR_STREAM_DESTROYED. */
function destroyedError(out: NodeJS.WritableStream): Error | undefined {
  const w = out as NodeJS.WritableStream & { destroyed?: boolean; errored?: Error | null };
  if (!w.destroyed) return undefined;
  return w.errored ?? Object.assign(new Error('the output was closed'), { code: 'ERR_STREAM_DESTROYED' });
}

function closed(err: unknown): OutputClosedError {
  return new OutputClosedError(`writing the output failed: ${describeError(err)} (the reader of diskless's output went away)`, { cause: err });
}

/** `failed` rejects when the output errs or is closed, and resolves at `event` if one is given; `stop` stops watching. */
function watchOutput(out: NodeJS.WritableStream, event: 'drain' | undefined): { failed: Promise<void>; stop: () => void } {
  let stop!: () => void;
  const failed = new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      stop();
      resolve();
    };
    const onError = (err: unknown) => {
      stop();
      reject(closed(err));
    };
    // A destroyed output (a socket closed by its owner) never drains and may emit no error.
    const onClose = () => onError(Object.assign(new Error('the output was closed'), { code: 'ERR_STREAM_DESTROYED' }));
    stop = () => {
      out.off('drain', onDrain);
      out.off('error', onError);
      out.off('close', onClose);
    };
    if (event) out.once(event, onDrain);
    out.once('error', onError);
    out.once('close', onClose);
    // Destroyed by the write itself (or before it): its 'close' may be gone already.
    const gone = destroyedError(out);
    if (gone) onError(gone);
  });
  return { failed, stop };
}
