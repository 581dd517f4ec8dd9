#include "age_chunks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <string>

#include "crc32c.h"

namespace diskless {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kTag = 16;
constexpr size_t kSealed = kChunk + kTag;
constexpr size_t kKey = 32;
constexpr size_t kNonce = 12;

enum class Direction { kSeal, kOpen };

// The number of chunks in a run of `length` input bytes, or 0 with *error set when the run is not
// whole chunks (only a final run may end short; a final sealed chunk holds at least its tag).
size_t ChunksIn(Direction dir, size_t length, bool final_run, const char** error) {
  const size_t unit = dir == Direction::kSeal ? kChunk : kSealed;
  if (!final_run) {
    if (length % unit != 0) *error = "a run that is not final must be whole chunks";
    return length / unit;
  }
  const size_t chunks = length == 0 ? 1 : (length + unit - 1) / unit;
  if (dir == Direction::kOpen && length - (chunks - 1) * unit < kTag) *error = "the last sealed chunk is shorter than its tag";
  return chunks;
}

class AgeChunksWorker : public Napi::AsyncWorker {
 public:
  AgeChunksWorker(Napi::Env env, Direction dir, const uint8_t* key, uint64_t counter, const uint8_t* in, size_t in_length,
                  uint8_t* out, size_t chunks, bool final_run, Napi::ObjectReference keep_in, Napi::ObjectReference keep_out)
      : Napi::AsyncWorker(env, dir == Direction::kSeal ? "diskless:sealChunks" : "diskless:openChunks"),
        deferred_(Napi::Promise::Deferred::New(env)),
        dir_(dir),
        counter_(counter),
        in_(in),
        in_length_(in_length),
        out_(out),
        chunks_(chunks),
        final_(final_run),
        keep_in_(std::move(keep_in)),
        keep_out_(std::move(keep_out)) {
    memcpy(key_, key, kKey);
  }

  ~AgeChunksWorker() override { OPENSSL_cleanse(key_, sizeof(key_)); }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    const bool seal = dir_ == Direction::kSeal;
    if (ctx == nullptr || EVP_CipherInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key_, nullptr, seal ? 1 : 0) != 1) {
      EVP_CIPHER_CTX_free(ctx);
      SetError(std::string(Name()) + ": OpenSSL could not start ChaCha20-Poly1305");
      return;
    }
    const size_t unit = seal ? kChunk : kSealed;
    uint32_t crc = 0;
    size_t in_at = 0;
    size_t out_at = 0;
    for (size_t i = 0; i < chunks_; ++i) {
      const size_t n = in_length_ - in_at < unit ? in_length_ - in_at : unit;
      const size_t body = seal ? n : n - kTag;
      uint8_t nonce[kNonce] = {};
      const uint64_t c = counter_ + i;
      for (int b = 0; b < 8; ++b) nonce[10 - b] = static_cast<uint8_t>(c >> (8 * b));
      nonce[11] = final_ && i + 1 == chunks_ ? 1 : 0;
      // A new nonce on the same context: the key stays, the Poly1305 state restarts.
      if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, -1) != 1) {
        Fail(ctx, "OpenSSL could not set the nonce");
        return;
      }
      if (seal) crc = crc32c_update(crc, in_ + in_at, body);
      if (!seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, const_cast<uint8_t*>(in_ + in_at + body)) != 1) {
        Fail(ctx, "OpenSSL could not set the tag");
        return;
      }
      int len = 0;
      if (body > 0 && (EVP_CipherUpdate(ctx, out_ + out_at, &len, in_ + in_at, static_cast<int>(body)) != 1 || static_cast<size_t>(len) != body)) {
        Fail(ctx, "OpenSSL ChaCha20-Poly1305 update failed");
        return;
      }
      int tail = 0;
      if (EVP_CipherFinal_ex(ctx, out_ + out_at + body, &tail) != 1) {
        if (seal) {
          Fail(ctx, "OpenSSL ChaCha20-Poly1305 final failed");
          return;
        }
        failed_ = static_cast<int64_t>(i);  // does not authenticate: stop, nothing of it counts
        OPENSSL_cleanse(out_ + out_at, body);  // and none of its unauthenticated plaintext stays in the buffer
        break;
      }
      if (seal && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, out_ + out_at + body) != 1) {
        Fail(ctx, "OpenSSL could not read the tag");
        return;
      }
      if (!seal) crc = crc32c_update(crc, out_ + out_at, body);
      in_at += n;
      out_at += seal ? n + kTag : body;
    }
    EVP_CIPHER_CTX_free(ctx);
    crc_ = crc;
    bytes_ = out_at;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object result = Napi::Object::New(env);
    result.Set("bytes", Napi::Number::New(env, static_cast<double>(bytes_)));
    result.Set("crc32c", Napi::Number::New(env, static_cast<double>(crc_)));
    if (dir_ == Direction::kOpen) result.Set("failed", Napi::Number::New(env, static_cast<double>(failed_)));
    Release();
    deferred_.Resolve(result);
  }

  void OnError(const Napi::Error& e) override {
    Release();
    deferred_.Reject(e.Value());
  }

 private:
  const char* Name() const { return dir_ == Direction::kSeal ? "sealChunks" : "openChunks"; }

  void Fail(EVP_CIPHER_CTX* ctx, const char* what) {
    EVP_CIPHER_CTX_free(ctx);
    SetError(std::string(Name()) + ": " + what);
  }

  void Release() {
    keep_in_.Reset();
    keep_out_.Reset();
  }

  Napi::Promise::Deferred deferred_;
  Direction dir_;
  uint8_t key_[kKey];
  uint64_t counter_;
  const uint8_t* in_;
  size_t in_length_;
  uint8_t* out_;
  size_t chunks_;
  bool final_;
  Napi::ObjectReference keep_in_;
  Napi::ObjectReference keep_out_;
  uint32_t crc_ = 0;
  size_t bytes_ = 0;
  int64_t failed_ = -1;
};

struct View {
  uint8_t* data;
  size_t length;
};

bool ViewArg(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, View* out) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsTypedArray() || info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array a = info[index].As<Napi::Uint8Array>();
  out->data = a.Data();
  out->length = a.ByteLength();
  return true;
}

Napi::Value Run(const Napi::CallbackInfo& info, Direction dir) {
  Napi::Env env = info.Env();
  const char* fn = dir == Direction::kSeal ? "sealChunks" : "openChunks";
  View key{}, in{}, out{};
  if (!ViewArg(info, 0, fn, "key", &key)) return env.Undefined();
  if (key.length != kKey) {
    Napi::RangeError::New(env, std::string(fn) + ": key must be 32 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() <= 1 || !info[1].IsNumber()) {
    Napi::TypeError::New(env, std::string(fn) + ": firstCounter must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double counter = info[1].As<Napi::Number>().DoubleValue();
  if (!(counter >= 0 && counter <= 9007199254740991.0 && std::floor(counter) == counter)) {
    Napi::RangeError::New(env, std::string(fn) + ": firstCounter must be a non-negative safe integer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ViewArg(info, 2, fn, dir == Direction::kSeal ? "plaintext" : "sealed", &in)) return env.Undefined();
  if (!ViewArg(info, 3, fn, "out", &out)) return env.Undefined();
  if (info.Length() <= 4 || !info[4].IsBoolean()) {
    Napi::TypeError::New(env, std::string(fn) + ": lastIsFinal must be a boolean").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const bool final_run = info[4].As<Napi::Boolean>().Value();
  // Memory safety is checked here, whatever the TypeScript wrapper checked: the run must be whole
  // chunks and `out` must hold all of its output.
  const char* error = nullptr;
  const size_t chunks = ChunksIn(dir, in.length, final_run, &error);
  if (error != nullptr) {
    Napi::RangeError::New(env, std::string(fn) + ": " + error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t needed = dir == Direction::kSeal ? in.length + chunks * kTag : in.length - chunks * kTag;
  if (out.length < needed) {
    Napi::RangeError::New(env, std::string(fn) + ": out holds " + std::to_string(out.length) + " bytes, the run needs " + std::to_string(needed))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new AgeChunksWorker(env, dir, key.data, static_cast<uint64_t>(counter), in.data, in.length, out.data, chunks, final_run,
                                     Napi::Persistent(info[2].As<Napi::Object>()), Napi::Persistent(info[3].As<Napi::Object>()));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

Napi::Value SealChunks(const Napi::CallbackInfo& info) { return Run(info, Direction::kSeal); }

Napi::Value OpenChunks(const Napi::CallbackInfo& info) { return Run(info, Direction::kOpen); }

}  // namespace diskless
