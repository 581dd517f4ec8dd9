#include "peer_credentials.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>

#include "arguments.h"
#include "errno_error.h"

namespace diskless {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!Int32Arg(info, 0, "peerCredentials", "fd", &fd)) return env.Undefined();
  struct ucred cred;
  socklen_t len = sizeof cred;
  std::memset(&cred, 0, sizeof cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    ThrowErrno(env, "getsockopt(SO_PEERCRED)", errno);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

namespace {

// Whether a poll of fd for `events`, without waiting, reports any of `want` (POLLHUP is reported whatever the
// events asked); throws and returns undefined on a failed poll.
Napi::Value PollReports(const Napi::CallbackInfo& info, const char* fn, short events, short want) {
  Napi::Env env = info.Env();
  int fd;
  if (!Int32Arg(info, 0, fn, "fd", &fd)) return env.Undefined();
  struct pollfd p = {fd, events, 0};
  int r;
  do r = poll(&p, 1, 0); while (r < 0 && errno == EINTR);
  if (r < 0) {
    ThrowErrno(env, "poll", errno);
    return env.Undefined();
  }
  return Napi::Boolean::New(env, r > 0 && (p.revents & want) != 0);
}

}  // namespace

Napi::Value PeerHungUp(const Napi::CallbackInfo& info) {
  return PollReports(info, "peerHungUp", POLLRDHUP, POLLRDHUP | POLLHUP);
}

// A Unix stream socket has POLLHUP once its peer is released (both directions shut), not when the peer only shut
// its write side down (that is POLLRDHUP).
Napi::Value PeerClosed(const Napi::CallbackInfo& info) {
  return PollReports(info, "peerClosed", 0, POLLHUP);
}

}  // namespace diskless
