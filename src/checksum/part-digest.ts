/**
 * The MD5 and CRC32C of a part, in one pass on a libuv thread-pool thread (native/addon/part_hash.cc),
 * so several parts hash at once on several cores and the event loop keeps reading and sending.
 */
import type { PartDigest } from '../native/addon-types.js';
import { loadAddon } from '../native/load-addon.js';

export type { PartDigest } from '../native/addon-types.js';

/** Hashes the concatenation of `chunks`; they must not change until the promise settles. `withMd5` false: CRC32C only. */
export function hashPart(chunks: readonly Uint8Array[], withMd5 = true): Promise<PartDigest> {
  return loadAddon().hashPart(chunks, withMd5);
}
