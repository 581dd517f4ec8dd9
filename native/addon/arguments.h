// Type checks of a native function's arguments: a TypeError naming the function and the argument.
// Range and meaning checks belong in the TypeScript wrappers.
#ifndef DISKLESS_ARGUMENTS_H
#define DISKLESS_ARGUMENTS_H

#include <napi.h>

#include <string>

namespace diskless {

// Reads info[index] as an int32 into *out; throws a TypeError and returns false if it is not a number.
inline bool Int32Arg(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, int* out) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[index].As<Napi::Number>().Int32Value();
  return true;
}

}  // namespace diskless

#endif
