// A JavaScript Error for a failed system call: message "<what>: <strerror>", `code` the errno name
// as Node's own errors have it (e.g. "ENOTSOCK"), `errno` the number.
#ifndef DISKLESS_ERRNO_ERROR_H
#define DISKLESS_ERRNO_ERROR_H

#include <napi.h>
#include <string.h>

#include <string>

namespace diskless {

inline void ThrowErrno(Napi::Env env, const char* what, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  const char* name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
}

}  // namespace diskless

#endif
