// Entry point of the diskless N-API addon: registers exports only. Each
// feature lives in its own translation unit; keep this list in sync with
// src/native/addon-types.ts.

#include <napi.h>

#include "age_chunks.h"
#include "crc32c.h"
#include "fd_control.h"
#include "part_hash.h"
#include "peer_credentials.h"
#include "process_control.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("crc32c", Napi::Function::New(env, diskless::Crc32c, "crc32c"));
  exports.Set("crc32cPortable",
              Napi::Function::New(env, diskless::Crc32cPortable, "crc32cPortable"));
  exports.Set("crc32cImplementation",
              Napi::Function::New(env, diskless::Crc32cImplementation,
                                  "crc32cImplementation"));
  exports.Set("crc32cCombine", Napi::Function::New(env, diskless::Crc32cCombine, "crc32cCombine"));
  exports.Set("hashPart", Napi::Function::New(env, diskless::HashPart, "hashPart"));
  exports.Set("sealChunks", Napi::Function::New(env, diskless::SealChunks, "sealChunks"));
  exports.Set("openChunks", Napi::Function::New(env, diskless::OpenChunks, "openChunks"));
  exports.Set("peerCredentials", Napi::Function::New(env, diskless::PeerCredentials, "peerCredentials"));
  exports.Set("peerHungUp", Napi::Function::New(env, diskless::PeerHungUp, "peerHungUp"));
  exports.Set("peerClosed", Napi::Function::New(env, diskless::PeerClosed, "peerClosed"));
  exports.Set("setChildSubreaper", Napi::Function::New(env, diskless::SetChildSubreaper, "setChildSubreaper"));
  exports.Set("reapChild", Napi::Function::New(env, diskless::ReapChild, "reapChild"));
  exports.Set("pipe", Napi::Function::New(env, diskless::Pipe, "pipe"));
  exports.Set("setBlocking", Napi::Function::New(env, diskless::SetBlocking, "setBlocking"));
  exports.Set("dupFd", Napi::Function::New(env, diskless::DupFd, "dupFd"));
  exports.Set("recvQueued", Napi::Function::New(env, diskless::RecvQueued, "recvQueued"));
  exports.Set("growPipe", Napi::Function::New(env, diskless::GrowPipe, "growPipe"));
  return exports;
}

}  // namespace

NODE_API_MODULE(diskless_addon, Init)
