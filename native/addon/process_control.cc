#include "process_control.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cerrno>

#include "arguments.h"
#include "errno_error.h"

namespace diskless {

Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    Napi::TypeError::New(env, "setChildSubreaper: on must be a boolean").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const unsigned long on = info[0].As<Napi::Boolean>().Value() ? 1 : 0;
  if (prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) != 0) ThrowErrno(env, "prctl(PR_SET_CHILD_SUBREAPER)", errno);
  return env.Undefined();
}

Napi::Value ReapChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid;
  if (!Int32Arg(info, 0, "reapChild", "pid", &pid)) return env.Undefined();
  int status = 0;
  pid_t got;
  do {
    got = waitpid(static_cast<pid_t>(pid), &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    ThrowErrno(env, "waitpid", errno);
    return env.Undefined();
  }
  if (got == 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, got));
  out.Set("code", WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status))) : env.Null());
  out.Set("signal", WIFSIGNALED(status) ? Napi::Value(Napi::Number::New(env, WTERMSIG(status))) : env.Null());
  return out;
}

}  // namespace diskless
