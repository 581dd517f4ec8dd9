// sealChunks / openChunks: a run of whole age STREAM chunks (age-encryption.org/v1 payload: 64 KiB
// chunks of ChaCha20-Poly1305 from Node's own OpenSSL, nonce = 11-byte big-endian counter and a
// last-chunk flag) sealed or opened on a libuv thread-pool thread, into a buffer the caller
// provides, with the plaintext's CRC32C in the same pass; so runs seal in parallel with each other
// and off the event loop (issue 15). The stream's framing (header, nonce, key derivation, which
// chunk is last) stays in src/crypto/.
#ifndef DISKLESS_AGE_CHUNKS_H
#define DISKLESS_AGE_CHUNKS_H

#include <napi.h>

namespace diskless {

/* sealChunks(key: Uint8Array(32), firstCounter: number, plaintext: Uint8Array, out: Uint8Array,
 *            lastIsFinal: boolean): Promise<{ bytes: number, crc32c: number }>
 * plaintext is cut into 64 KiB chunks (only a final run may end short, or be empty: one empty
 * chunk); each is written to out as its ciphertext and 16-byte tag. bytes = ciphertext written,
 * crc32c = of the plaintext. The key is copied (and wiped) by the call; plaintext and out must not
 * be touched until the promise settles (the addon keeps them alive). */
Napi::Value SealChunks(const Napi::CallbackInfo& info);

/* openChunks(key, firstCounter, sealed: Uint8Array, out: Uint8Array, lastIsFinal: boolean):
 *   Promise<{ bytes: number, crc32c: number, failed: number }>
 * The reverse: sealed is whole sealed chunks (64 KiB + 16; only a final run may end short, with at
 * least its 16-byte tag). bytes/crc32c are of the plaintext of the chunks that authenticate, in
 * order; failed is the index in the run of the first chunk that does not (-1 if all do); out
 * past `bytes` holds nothing usable. */
Napi::Value OpenChunks(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
