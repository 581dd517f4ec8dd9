// File-descriptor operations Node lacks: a raw pipe whose read end diskless reads with fs.read
// straight into its upload buffers (no stream chunks to garbage-collect), clearing O_NONBLOCK, and dup.
#ifndef DISKLESS_FD_CONTROL_H
#define DISKLESS_FD_CONTROL_H

#include <napi.h>

namespace diskless {

// pipe(): [readFd, writeFd], both close-on-exec (spawn dup2()s the write end into the child).
Napi::Value Pipe(const Napi::CallbackInfo& info);
// setBlocking(fd: number): void — clears O_NONBLOCK, so fs.read waits for data instead of failing with EAGAIN.
Napi::Value SetBlocking(const Napi::CallbackInfo& info);
// dupFd(fd: number): number — a close-on-exec duplicate of fd (F_DUPFD_CLOEXEC), so a connection
// Node accepted can be rewrapped in a socket that reads into the upload buffers (src/ingest/socket-reader.ts).
Napi::Value DupFd(const Napi::CallbackInfo& info);
// recvQueued(fd: number, max: number): Buffer — the bytes already queued on a socket, up to `max` (at most 16 KiB),
// taken without waiting (recv MSG_DONTWAIT); empty when none are (or on any error: the caller's
// normal reads then see it). A connection Node has just accepted has its first frame read at once,
// instead of one turn of the event loop later, when Node would start reading it
// (src/ingest/ingest-server.ts: that turn was most of a small file's wait for its open).
Napi::Value RecvQueued(const Napi::CallbackInfo& info);
// growPipe(fd: number, bytes: number): number — F_SETPIPE_SZ on a pipe (up to `bytes`, else the
// system's pipe-max-size), so one read returns up to that much instead of 64 KiB; returns the pipe's
// size, or 0 when fd is not a pipe (nothing is changed then).
Napi::Value GrowPipe(const Napi::CallbackInfo& info);

}  // namespace diskless

#endif
