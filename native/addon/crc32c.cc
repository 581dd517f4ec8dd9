// CRC32C (Castagnoli): SSE4.2 hardware path with a portable slicing-by-8
// fallback, plus the N-API bindings that expose them to JavaScript.
//
// Conventions: a "finished" CRC is what callers see (0 for no data). Internally
// the register is the finished value inverted (initial register 0xFFFFFFFF,
// final XOR 0xFFFFFFFF), bit-reflected, polynomial 0x82F63B78. The SSE4.2
// crc32 instruction computes exactly this register update, so both paths share
// the same pre/post inversion.

#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DISKLESS_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define DISKLESS_CRC32C_X86 0
#endif

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected 0x1EDC6F41

// ---------------------------------------------------------------------------
// Tables, all computed at compile time (no initialisation order or thread
// safety questions at load time).
// ---------------------------------------------------------------------------

struct SlicingTables {
  uint32_t t[8][256];
};

// t[0] is the classic byte-at-a-time table; t[k][i] is the register after
// feeding byte i followed by k zero bytes, which lets us fold 8 bytes at once.
constexpr SlicingTables MakeSlicingTables() {
  SlicingTables r{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kPoly : c >> 1;
    r.t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int k = 1; k < 8; ++k) {
      const uint32_t prev = r.t[k - 1][i];
      r.t[k][i] = (prev >> 8) ^ r.t[0][prev & 0xFFu];
    }
  }
  return r;
}

constexpr SlicingTables kSlicing = MakeSlicingTables();

inline uint32_t LoadLe32(const uint8_t* p) {
  // Byte-wise so the result is independent of host endianness; compilers turn
  // this into a single load on little-endian targets.
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// Raw register update (no pre/post inversion), slicing-by-8.
uint32_t PortableRegister(uint32_t c, const uint8_t* p, size_t n) {
  const auto& t = kSlicing.t;
  while (n >= 8) {
    const uint32_t lo = c ^ LoadLe32(p);
    const uint32_t hi = LoadLe32(p + 4);
    c = t[7][lo & 0xFFu] ^ t[6][(lo >> 8) & 0xFFu] ^ t[5][(lo >> 16) & 0xFFu] ^
        t[4][lo >> 24] ^ t[3][hi & 0xFFu] ^ t[2][(hi >> 8) & 0xFFu] ^
        t[1][(hi >> 16) & 0xFFu] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n != 0) {
    c = t[0][(c ^ *p) & 0xFFu] ^ (c >> 8);
    ++p;
    --n;
  }
  return c;
}

// Polynomial arithmetic mod P in the reflected representation (bit 31 is the
// coefficient of x^0). Used by the SSE4.2 shift tables and by crc32c_combine.
constexpr uint32_t MultModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return product;
}

// x^(8 * bytes) mod P: the operator that appending `bytes` zero bytes applies
// to a register.
constexpr uint32_t ZeroBytesOperator(uint64_t bytes) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t square = 1u << 23;  // x^8
  while (bytes != 0) {
    if (bytes & 1u) result = MultModP(square, result);
    square = MultModP(square, square);
    bytes >>= 1;
  }
  return result;
}

#if DISKLESS_CRC32C_X86

struct ShiftTables {
  uint32_t t[4][256];
};

// Byte-indexed tables for the linear map "register -> register after `bytes`
// zero bytes", so that shifting costs four lookups.
constexpr ShiftTables MakeShiftTables(size_t bytes) {
  ShiftTables r{};
  const uint32_t op = ZeroBytesOperator(bytes);
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) r.t[k][b] = MultModP(op, b << (8 * k));
  }
  return r;
}

inline uint32_t Shift(const ShiftTables& s, uint32_t c) {
  return s.t[0][c & 0xFFu] ^ s.t[1][(c >> 8) & 0xFFu] ^
         s.t[2][(c >> 16) & 0xFFu] ^ s.t[3][c >> 24];
}

// The crc32 instruction has a latency of 3 cycles but a throughput of 1 per
// cycle, so large inputs are processed as three independent interleaved
// streams whose registers are then combined by shifting (the approach of Mark
// Adler's crc32c.c). Block sizes must be multiples of 8.
constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;
constexpr ShiftTables kLongShift = MakeShiftTables(kLongBlock);
constexpr ShiftTables kShortShift = MakeShiftTables(kShortBlock);

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

// One round of three interleaved streams over 3 * block bytes starting at p.
__attribute__((target("sse4.2"))) inline uint64_t Sse42ThreeWay(
    uint64_t c0, const uint8_t* p, size_t block, const ShiftTables& shift) {
  uint64_t c1 = 0;
  uint64_t c2 = 0;
  const uint8_t* const end = p + block;
  do {
    c0 = _mm_crc32_u64(c0, Load64(p));
    c1 = _mm_crc32_u64(c1, Load64(p + block));
    c2 = _mm_crc32_u64(c2, Load64(p + 2 * block));
    p += 8;
  } while (p < end);
  uint32_t c = Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
  c = Shift(shift, c) ^ static_cast<uint32_t>(c2);
  return c;
}

// Raw register update using SSE4.2. Only call when the CPU supports it.
__attribute__((target("sse4.2"))) uint32_t Sse42Register(uint32_t c32,
                                                          const uint8_t* p,
                                                          size_t n) {
  // Align to 8 bytes so the 64-bit loads never straddle cache lines needlessly.
  while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --n;
  }
  uint64_t c = c32;
  while (n >= 3 * kLongBlock) {
    c = Sse42ThreeWay(c, p, kLongBlock, kLongShift);
    p += 3 * kLongBlock;
    n -= 3 * kLongBlock;
  }
  while (n >= 3 * kShortBlock) {
    c = Sse42ThreeWay(c, p, kShortBlock, kShortShift);
    p += 3 * kShortBlock;
    n -= 3 * kShortBlock;
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, Load64(p));
    p += 8;
    n -= 8;
  }
  c32 = static_cast<uint32_t>(c);
  while (n != 0) {
    c32 = _mm_crc32_u8(c32, *p);
    ++p;
    --n;
  }
  return c32;
}

bool CpuHasSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2") != 0;
}

// -1 unknown, 0 no, 1 yes. Detection is idempotent, so racing threads at
// worst detect twice; atomics (not a function-local static) keep the core free
// of C++ runtime dependencies such as __cxa_guard_acquire.
int g_sse42_state = -1;

bool UseSse42() {
  int state = __atomic_load_n(&g_sse42_state, __ATOMIC_RELAXED);
  if (state < 0) {
    state = CpuHasSse42() ? 1 : 0;
    __atomic_store_n(&g_sse42_state, state, __ATOMIC_RELAXED);
  }
  return state != 0;
}

#else  // !DISKLESS_CRC32C_X86

bool UseSse42() { return false; }

#endif  // DISKLESS_CRC32C_X86

}  // namespace

extern "C" {

uint32_t crc32c_portable(uint32_t crc, const uint8_t* p, size_t n) {
  if (n == 0) return crc;
  return ~PortableRegister(~crc, p, n);
}

uint32_t crc32c_update(uint32_t crc, const uint8_t* p, size_t n) {
  if (n == 0) return crc;
#if DISKLESS_CRC32C_X86
  if (UseSse42()) return ~Sse42Register(~crc, p, n);
#endif
  return ~PortableRegister(~crc, p, n);
}

const char* crc32c_implementation(void) {
  return UseSse42() ? "sse4.2" : "portable";
}

// crc32c_combine: as zlib's crc32_combine. Appending len2 bytes multiplies the first CRC by
// x^(8*len2) mod P; the pre/post inversions cancel out.
uint32_t crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  return MultModP(ZeroBytesOperator(len2), crc1) ^ crc2;
}

}  // extern "C"

// ---------------------------------------------------------------------------
// N-API bindings. Argument checks here are deliberately minimal (types only);
// range validation and friendly messages live in src/checksum/crc32c.ts.
// ---------------------------------------------------------------------------
#ifdef NAPI_VERSION

namespace diskless {
namespace {

using Crc32cFn = uint32_t (*)(uint32_t, const uint8_t*, size_t);

Napi::Value Compute(const Napi::CallbackInfo& info, Crc32cFn fn) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) {
    Napi::TypeError::New(env, "crc32c: data must be a TypedArray")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t previous = 0;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) {
      Napi::TypeError::New(env, "crc32c: previous must be a number")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // ToUint32 semantics; the TypeScript wrapper rejects out-of-range values.
    previous = info[1].As<Napi::Number>().Uint32Value();
  }

  const Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  const size_t length = array.ByteLength();
  // `data` already accounts for byteOffset; works for ArrayBuffer- and
  // SharedArrayBuffer-backed views. NULL with length 0 when detached.
  void* data = nullptr;
  const napi_status status =
      napi_get_typedarray_info(env, array, nullptr, nullptr, &data, nullptr, nullptr);
  if (status != napi_ok) {
    Napi::Error::New(env).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  const uint32_t crc = fn(previous, static_cast<const uint8_t*>(data), length);
  return Napi::Number::New(env, static_cast<double>(crc));
}

}  // namespace

Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  return Compute(info, crc32c_update);
}

Napi::Value Crc32cPortable(const Napi::CallbackInfo& info) {
  return Compute(info, crc32c_portable);
}

Napi::Value Crc32cImplementation(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), crc32c_implementation());
}

Napi::Value Crc32cCombine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "crc32cCombine: crc1, crc2 and len2 must be numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint32_t crc1 = info[0].As<Napi::Number>().Uint32Value();
  const uint32_t crc2 = info[1].As<Napi::Number>().Uint32Value();
  const double len2 = info[2].As<Napi::Number>().DoubleValue();
  const uint32_t crc = crc32c_combine(crc1, crc2, static_cast<uint64_t>(len2));
  return Napi::Number::New(env, static_cast<double>(crc));
}

}  // namespace diskless

#endif  // NAPI_VERSION
