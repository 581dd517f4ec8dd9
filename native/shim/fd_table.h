/*
 * Which descriptors of this process are virtual files, and whether this process certainly holds
 * the last reference to one. A fixed array indexed by fd (fds >= FD_TABLE_SIZE are not tracked,
 * which the shim treats as "shared": their close never waits), one mutex, and a fork generation.
 *
 * An entry is only a hint: libc-internal closes (fclose's, close_range, closefrom, dup2 over it,
 * posix_spawn file actions) bypass the hooks, so users re-validate an entry with fstat (inode and
 * file type) before trusting it (fdt_validate).
 */
#ifndef DISKLESS_SHIM_FD_TABLE_H
#define DISKLESS_SHIM_FD_TABLE_H

#include <stdint.h>

#include "shim.h"

#define FD_TABLE_SIZE 65536

enum fd_kind {
  FD_NONE = 0,
  FD_VIRTUAL = 1, /* the socket of a virtual file opened for writing */
  FD_REOPEN = 2,  /* the stand-in directory (DISKLESS_STANDIN) for an existing virtual file reopened
                     without O_CREAT/O_TRUNC: fsync works, read/write fail (EISDIR/EBADF) */
  FD_MEMORY = 3,  /* a random-access file held in a memfd; `aux` is its upload socket, sent at close */
  FD_READ = 4,    /* the socket a stored file is read from (READ_OPEN: run --from, or read back); `path` is its name */
};

struct fd_entry {
  uint8_t kind;     /* enum fd_kind */
  uint8_t shared;   /* duplicated (dup*, F_DUPFD*, freopen bookkeeping) since the open */
  uint32_t gen;     /* fork generation at open time */
  pid_t owner;      /* process that opened it */
  uint64_t ino;     /* st_ino of the open file, to detect a stale entry */
  uint64_t dev;     /* st_dev likewise */
  int aux;          /* FD_MEMORY: the upload socket */
  uint8_t random;   /* FD_MEMORY: seen a seek back, a pwrite or a truncation below its end */
  char *path;       /* FD_VIRTUAL/FD_MEMORY/FD_READ opened here: path relative to the directory (malloc'd), or NULL */
  uint64_t pos;     /* FD_READ: bytes of the file before the next read() (where the stream started + bytes read) */
};

/* Records fd as `kind`, owned by this process, not shared, current generation. The fd's inode is
 * taken with fstat. No-op in a foreign (vfork/CLONE_VM) child or for fd outside the table. */
SHIM_HIDDEN void fdt_record(int fd, enum fd_kind kind);
/* The same with the upload socket and path of a virtual file (path is copied). */
SHIM_HIDDEN void fdt_record_file(int fd, enum fd_kind kind, int aux, const char *path);
/* Lock-free kind of fd (FD_NONE if untracked); a hint, for hot paths (write). */
SHIM_HIDDEN enum fd_kind fdt_peek(int fd);
/* Marks an FD_MEMORY entry as really random-access (it can no longer become a stream). */
SHIM_HIDDEN void fdt_mark_random(int fd);
/* Is fd the upload socket (aux) of a random-access file this process tracks? (scans the table) */
SHIM_HIDDEN int fdt_is_aux(int fd);
/* FD_READ: the file position moved by n bytes (a read()), or is now pos (a seek reopened the stream). */
SHIM_HIDDEN void fdt_add_pos(int fd, uint64_t n);
SHIM_HIDDEN void fdt_set_pos(int fd, uint64_t pos);
/* Frees the path of an entry returned by fdt_take. */
SHIM_HIDDEN void fdt_release(struct fd_entry *e);
/* Forgets fd (a new descriptor got this number, or it is being closed). Cheap when untracked. */
SHIM_HIDDEN void fdt_forget(int fd);
/* Marks fd as shared: another descriptor now refers to the same open file. */
SHIM_HIDDEN void fdt_mark_shared(int fd);
/* Moves the entry of `from` to `to` (freopen: the open file now lives at `to` only). */
SHIM_HIDDEN void fdt_move(int from, int to);
/* Copies the path of fd's entry (if it has one) into buf[n] under the lock; returns its kind. */
SHIM_HIDDEN enum fd_kind fdt_path(int fd, char *buf, size_t n);
/* Copies fd's entry into *out and returns its kind (FD_NONE if untracked). out->path is always NULL:
 * the table's path may be freed by another thread's close of fd (fdt_take, fdt_release) as soon as
 * the lock is released, so the path is copied into path[n] under the lock instead ("" if the entry
 * has none or fd is untracked; path may be NULL when n is 0). */
SHIM_HIDDEN enum fd_kind fdt_get(int fd, struct fd_entry *out, char *path, size_t n);
/* Removes fd's entry and returns it in *out (FD_NONE if untracked). The caller then closes fd. */
SHIM_HIDDEN enum fd_kind fdt_take(int fd, struct fd_entry *out);
/* Does fd still refer to the open file the entry was made for? (fstat: type, dev, inode) */
SHIM_HIDDEN int fdt_validate(int fd, const struct fd_entry *e);
/* Is this process certainly the only holder of the entry's open file? (virtual or read, opened by
 * this process, never duplicated, no fork or spawn since) */
SHIM_HIDDEN int fdt_certainly_last(const struct fd_entry *e);
/* Every descriptor open now may be held by another process from now on (fork, spawn). */
SHIM_HIDDEN void fdt_bump_generation(void);

/* pthread_atfork handlers (registered by init.c). */
SHIM_HIDDEN void fdt_atfork_prepare(void);
SHIM_HIDDEN void fdt_atfork_parent(void);
SHIM_HIDDEN void fdt_atfork_child(void);

#endif
