/**
 * The MD5 and CRC32C of a part, in one pass on a libuv thread-pool thread (native/addon/part_hash.cc),
 * so several parts hash at once on several cores and the event loop keeps reading and sending.
 */
import type { PartDigest } from '../native/addon-types.js';
import { loadAddon } from '../native/load-addon.js';

export type { PartDigest } from '../native/addon-types.js';

/** Hashes the concatenation of `chunks`; they must not change until the promise settles. */
export function hashPart(chunks: readonly Uint8Array[]): Promise<PartDigest> {
  return loadAddon().hashPart(chunks);
}
