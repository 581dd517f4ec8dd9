#include "part_hash.h"

#include <openssl/evp.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "crc32c.h"

namespace diskless {
namespace {

// Both hashes walk the same block while it is in cache: one pass over memory, not two.
constexpr size_t kBlock = 64 * 1024;

struct Span {
  const uint8_t* data;
  size_t length;
};

class HashPartWorker : public Napi::AsyncWorker {
 public:
  HashPartWorker(Napi::Env env, std::vector<Span> spans, std::vector<Napi::ObjectReference> keep, bool with_md5)
      : Napi::AsyncWorker(env, "diskless:hashPart"),
        deferred_(Napi::Promise::Deferred::New(env)),
        spans_(std::move(spans)),
        keep_(std::move(keep)),
        with_md5_(with_md5) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    if (!with_md5_) {
      uint32_t crc = 0;
      for (const Span& s : spans_) crc = crc32c_update(crc, s.data, s.length);
      crc_ = crc;
      return;
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      SetError("hashPart: OpenSSL could not start an MD5");
      return;
    }
    uint32_t crc = 0;
    for (const Span& s : spans_) {
      for (size_t off = 0; off < s.length; off += kBlock) {
        const size_t n = s.length - off < kBlock ? s.length - off : kBlock;
        crc = crc32c_update(crc, s.data + off, n);
        if (EVP_DigestUpdate(ctx, s.data + off, n) != 1) {
          EVP_MD_CTX_free(ctx);
          SetError("hashPart: OpenSSL MD5 update failed");
          return;
        }
      }
    }
    unsigned int len = 0;
    const int ok = EVP_DigestFinal_ex(ctx, md5_, &len);
    EVP_MD_CTX_free(ctx);
    if (ok != 1 || len != sizeof(md5_)) {
      SetError("hashPart: OpenSSL MD5 final failed");
      return;
    }
    crc_ = crc;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object out = Napi::Object::New(env);
    if (with_md5_) out.Set("md5", Napi::Buffer<uint8_t>::Copy(env, md5_, sizeof(md5_)));
    out.Set("crc32c", Napi::Number::New(env, static_cast<double>(crc_)));
    keep_.clear();
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override {
    keep_.clear();
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Span> spans_;
  std::vector<Napi::ObjectReference> keep_;
  bool with_md5_;
  uint8_t md5_[16] = {};
  uint32_t crc_ = 0;
};

}  // namespace

Napi::Value HashPart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "hashPart: chunks must be an array of Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Array chunks = info[0].As<Napi::Array>();
  std::vector<Span> spans;
  std::vector<Napi::ObjectReference> keep;
  spans.reserve(chunks.Length());
  keep.reserve(chunks.Length());
  for (uint32_t i = 0; i < chunks.Length(); ++i) {
    const Napi::Value v = chunks.Get(i);
    if (!v.IsTypedArray()) {
      Napi::TypeError::New(env, "hashPart: chunk " + std::to_string(i) + " is not a Uint8Array").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    void* data = nullptr;
    size_t length = 0;
    if (napi_get_typedarray_info(env, v, nullptr, &length, &data, nullptr, nullptr) != napi_ok) {
      Napi::Error::New(env, "hashPart: cannot read chunk " + std::to_string(i)).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const size_t bytes = v.As<Napi::TypedArray>().ByteLength();
    spans.push_back(Span{static_cast<const uint8_t*>(data), bytes});
    keep.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }
  // The second argument, false, leaves the MD5 out: a part sent with a CRC32C checksum needs none.
  const bool with_md5 = info.Length() < 2 || info[1].ToBoolean().Value();
  auto* worker = new HashPartWorker(env, std::move(spans), std::move(keep), with_md5);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace diskless
