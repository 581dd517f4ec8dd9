#include "fd_control.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

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

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!Int32Arg(info, 0, "dupFd", "fd", &fd)) return env.Undefined();
  const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, copy);
}

Napi::Value RecvQueued(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int max;
  if (!Int32Arg(info, 0, "recvQueued", "fd", &fd) || !Int32Arg(info, 1, "recvQueued", "max", &max)) return env.Undefined();
  char buf[16384];
  if (max <= 0 || max > static_cast<int>(sizeof buf)) {
    Napi::RangeError::New(env, "recvQueued: max must be from 1 to 16384").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ssize_t n;
  do n = recv(fd, buf, static_cast<size_t>(max), MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  return Napi::Buffer<char>::Copy(env, buf, n > 0 ? static_cast<size_t>(n) : 0);
}

namespace {

// /proc/sys/fs/pipe-max-size: the largest pipe an unprivileged process may ask for.
int PipeMaxSize() {
  FILE* f = fopen("/proc/sys/fs/pipe-max-size", "re");
  if (f == nullptr) return 0;
  int size = 0;
  if (fscanf(f, "%d", &size) != 1) size = 0;
  fclose(f);
  return size;
}

}  // namespace

Napi::Value GrowPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int bytes;
  if (!Int32Arg(info, 0, "growPipe", "fd", &fd) || !Int32Arg(info, 1, "growPipe", "bytes", &bytes)) return env.Undefined();
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowErrno(env, "fstat", errno);
    return env.Undefined();
  }
  if (!S_ISFIFO(st.st_mode)) return Napi::Number::New(env, 0);
  const int current = fcntl(fd, F_GETPIPE_SZ);
  if (current >= bytes) return Napi::Number::New(env, current);
  int size = fcntl(fd, F_SETPIPE_SZ, bytes);
  if (size < 0 && (errno == EPERM || errno == EBUSY)) {
    // Over the unprivileged limit (EPERM) or the user's pipe memory (EBUSY): the limit, if it helps.
    const int max = PipeMaxSize();
    if (max > current) size = fcntl(fd, F_SETPIPE_SZ, max);
  }
  if (size < 0) size = current;  // still a working pipe, only a smaller one
  return Napi::Number::New(env, size);
}

}  // namespace diskless
