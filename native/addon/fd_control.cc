#include "fd_control.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "arguments.h"
#include "errno_error.h"

namespace diskless {

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ThrowErrno(env, "pipe2", errno);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!Int32Arg(info, 0, "setBlocking", "fd", &fd)) return env.Undefined();
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)) {
    ThrowErrno(env, "fcntl(O_NONBLOCK)", errno);
  }
  return env.Undefined();
}

}  // namespace diskless
