// File-descriptor operations Node lacks: a raw pipe whose read end diskless reads with fs.read
// straight into its upload buffers (no stream chunks to garbage-collect), and clearing O_NONBLOCK.
#ifndef DISKLESS_FD_CONTROL_H
#define DISKLESS_FD_CONTROL_H

#include <napi.h>

namespace diskless {

// pipe(): [readFd, writeFd], both close-on-exec (spawn dup2()s the write end into the child).
Napi::Value Pipe(const Napi::CallbackInfo& info);
// setBlocking(fd: number): void — clears O_NONBLOCK, so fs.read waits for data instead of failing with EAGAIN.
Napi::Value SetBlocking(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
