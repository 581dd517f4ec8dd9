// Process control Node lacks: becoming a child subreaper (orphaned descendants of a wrapped command are
// re-parented to diskless, so it can wait for them), and reaping one such orphan without touching the
// children libuv waits for.
#ifndef DISKLESS_PROCESS_CONTROL_H
#define DISKLESS_PROCESS_CONTROL_H

#include <napi.h>

namespace diskless {

// setChildSubreaper(on: boolean): void
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info);
// reapChild(pid: number): { pid, code, signal } | null  (null while it runs; waitpid WNOHANG)
Napi::Value ReapChild(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
