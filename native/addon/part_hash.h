// hashPart: the MD5 and CRC32C of a part's bytes, computed in one pass on a libuv thread-pool
// thread, so parts hash in parallel with each other and off the event loop (issue 13).
#ifndef DISKLESS_PART_HASH_H
#define DISKLESS_PART_HASH_H

#include <napi.h>

namespace diskless {

/* hashPart(chunks: Uint8Array[]): Promise<{ md5: Buffer, crc32c: number }>. The chunks must not
 * change until the promise settles (the addon keeps them alive). */
Napi::Value HashPart(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
