/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI
 * (RFC 3720), ext4, and S3's x-amz-checksum-crc32c header.
 *
 * The core section is plain C-compatible code with no Node dependency. The
 * N-API section at the bottom is only visible to C++ translation units
 * compiled for the addon (the addon target defines NAPI_VERSION), so a plain C
 * or non-Node consumer of this header sees the core API alone.
 */
#ifndef DISKLESS_NATIVE_ADDON_CRC32C_H_
#define DISKLESS_NATIVE_ADDON_CRC32C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Continues a CRC32C over n bytes at p and returns the new value.
 *
 * `crc` is a finished CRC as returned by an earlier call (0 to start), so
 * crc32c_update(crc32c_update(0, a, na), b, nb) equals the CRC of a followed
 * by b, and crc32c_update(0, p, 0) == 0. p may be NULL when n is 0.
 *
 * Uses the SSE4.2 crc32 instruction when the running CPU has it (x86-64 only),
 * the portable implementation otherwise.
 */
uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n);

/* Same contract as crc32c_update, always using the portable slicing-by-8
 * table implementation (for tests, benchmarks and CPUs without SSE4.2). */
uint32_t crc32c_portable(uint32_t crc, const uint8_t* p, size_t n);

/* The implementation crc32c_update uses on this CPU: "sse4.2" or "portable".
 * The returned string is static. */
const char* crc32c_implementation(void);

/* The CRC32C of A followed by B, from crc1 = CRC of A, crc2 = CRC of B and len2 = B's length
 * (zlib's crc32_combine): lets parts of a stream be hashed in parallel and joined in order. */
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__cplusplus) && defined(NAPI_VERSION)
#include <napi.h>

namespace diskless {

/* crc32c(data: TypedArray, previous?: number): number */
Napi::Value Crc32c(const Napi::CallbackInfo& info);
/* crc32cPortable(data: TypedArray, previous?: number): number */
Napi::Value Crc32cPortable(const Napi::CallbackInfo& info);
/* crc32cImplementation(): 'sse4.2' | 'portable' */
Napi::Value Crc32cImplementation(const Napi::CallbackInfo& info);
/* crc32cCombine(crc1: number, crc2: number, len2: number): number */
Napi::Value Crc32cCombine(const Napi::CallbackInfo& info);

}  // namespace diskless
#endif /* __cplusplus && NAPI_VERSION */

#endif /* DISKLESS_NATIVE_ADDON_CRC32C_H_ */
