/**
 * The age STREAM chunk layout (64 KiB of plaintext, then a 16-byte Poly1305 tag), and the native
 * functions that seal and open runs of whole chunks with Node's own OpenSSL ChaCha20-Poly1305 on a
 * libuv thread-pool thread (native/addon/age_chunks.cc): the event loop never runs the cipher, and
 * runs with different counters seal in parallel on several cores.
 */
import type { ChunkRun, OpenedRun } from '../native/addon-types.js';
import { loadAddon } from '../native/load-addon.js';

export type { ChunkRun, OpenedRun } from '../native/addon-types.js';

export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;

/**
 * Chunks in a run of `plainLength` plaintext bytes: a run that is not final is whole chunks; a
 * final one has at least one (the plaintext of an empty stream is one empty chunk).
 */
export function chunksIn(plainLength: number, final: boolean): number {
  if (!final && plainLength % CHUNK_SIZE !== 0) throw new RangeError(`age STREAM: a run that is not the last must be whole 64 KiB chunks, got ${plainLength} bytes`);
  return final ? Math.max(1, Math.ceil(plainLength / CHUNK_SIZE)) : plainLength / CHUNK_SIZE;
}

/** Ciphertext bytes of a run of `plainLength` plaintext bytes. */
export function sealedSize(plainLength: number, final: boolean): number {
  return plainLength + chunksIn(plainLength, final) * TAG_SIZE;
}

/**
 * Seals `plain` as chunks `firstCounter`… into `out` (at least sealedSize bytes) on the thread pool;
 * resolves with the bytes written and the plaintext's CRC32C. The key is copied at once (the
 * caller may wipe it when this returns); `plain` and `out` must not change until it settles.
 */
export function sealChunks(key: Uint8Array, firstCounter: number, plain: Uint8Array, out: Uint8Array, final: boolean): Promise<ChunkRun> {
  return loadAddon().sealChunks(key, firstCounter, plain, out, final);
}

/** Opens sealed chunks into `out`, stopping at the first that does not authenticate (see OpenedRun). */
export function openChunks(key: Uint8Array, firstCounter: number, sealed: Uint8Array, out: Uint8Array, final: boolean): Promise<OpenedRun> {
  return loadAddon().openChunks(key, firstCounter, sealed, out, final);
}
