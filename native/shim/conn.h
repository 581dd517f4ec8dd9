/*
 * Talking to the uploader (native/wire/wire.def): one AF_UNIX SOCK_STREAM|SOCK_CLOEXEC connection per
 * file, and one per process for its requests (another when that one is busy), EINTR and short read/write loops, frames built with wire.h. Every function
 * returns 0 or a positive errno value (never touches the caller's errno on success).
 * Failures to reach or understand the uploader are logged and reported as EIO.
 */
#ifndef DISKLESS_SHIM_CONN_H
#define DISKLESS_SHIM_CONN_H

#include <stdint.h>
#include <sys/types.h>

#include "shim.h"

/* OPEN: on success *fd_out is the connected socket (still CLOEXEC) ready to carry the file's bytes. */
SHIM_HIDDEN int conn_open_file(const char *rel, int flags, mode_t mode, int *fd_out);
/* End of a file the caller certainly holds the last reference to: shutdown(SHUT_WR), then wait for
 * RESULT, holding the connection: that shutdown is the file's clean end (wire.def), no END needed.
 * Returns RESULT.err, or EIO if the connection dropped or the frame was malformed. Does not close fd. */
SHIM_HIDDEN int conn_finish_file(int fd, const char *what);
/* READ_OPEN (a file of the backup of run --from, or one stored earlier in the run), sent to the read
 * socket: on success *fd_out is the connected socket (still CLOEXEC) from which the file's bytes from
 * `offset` can be read; the canary byte (wire.def) has been sent. ENOENT: no such stored file. */
SHIM_HIDDEN int conn_read_open(const char *rel, uint64_t offset, int *fd_out);
/* In a fork child: closes the child's copy of the parent's request connection (conn.c); the child makes its own. */
SHIM_HIDDEN void conn_atfork_child(void);
SHIM_HIDDEN int conn_rename(const char *from, const char *to);
SHIM_HIDDEN int conn_unlink(const char *rel);
/* SYNC: waits until the closed virtual file rel is stored; 0, or its errno (ENOENT: not a virtual file). */
SHIM_HIDDEN int conn_sync(const char *rel);
SHIM_HIDDEN int conn_stat(const char *rel, uint64_t *size, int64_t *mtime_ns);
/* RENAME_DIR: the uploader moves every virtual file below from/ to below to/. */
SHIM_HIDDEN int conn_rename_dir(const char *from, const char *to);
/* FAIL: logs the message (always) and tells the uploader that the run must fail because of path. */
SHIM_HIDDEN void conn_fail(const char *path, const char *fmt, ...) SHIM_PRINTF(2, 3);
/* The size so far of the virtual file streamed through fd (waits until the uploader has read every
 * byte written so far, then STAT). For position queries: lseek(fd, 0, SEEK_CUR/SEEK_END). */
SHIM_HIDDEN int conn_stream_size(int fd, const char *rel, uint64_t *size);
/* A clean end of this holder's use of the file streamed through fd (wire.def: END): waits until
 * the uploader has read every byte written so far, then sends END with the file's id (peeked from
 * HANDLE). No-op for a descriptor without HANDLE. errno is preserved. */
SHIM_HIDDEN void conn_end_mark(int fd, uint32_t how);
/* END for every uploader socket this process holds (only those with FD_CLOEXEC if only_cloexec):
 * at exit, _exit and exec. Uses getdents64 on /proc/self/fd (no malloc). */
SHIM_HIDDEN void conn_end_all(uint32_t how, int only_cloexec);
/* What fd is connected to (one getpeername; for descriptors the fd table does not know: inherited
 * across exec, or duplicated): CONN_PEER_WRITE, the uploader's socket (a file being written, or a
 * request); CONN_PEER_READ, its read socket ($DISKLESS_READ_SOCKET: a stored file being read);
 * else CONN_PEER_NONE. */
enum conn_peer { CONN_PEER_NONE = 0, CONN_PEER_WRITE = 1, CONN_PEER_READ = 2 };
SHIM_HIDDEN enum conn_peer conn_peer_of(int fd);
static inline int conn_is_uploader_socket(int fd) { return conn_peer_of(fd) != CONN_PEER_NONE; }
static inline int conn_is_write_socket(int fd) { return conn_peer_of(fd) == CONN_PEER_WRITE; }
static inline int conn_is_read_socket(int fd) { return conn_peer_of(fd) == CONN_PEER_READ; }

#endif
