/*
 * fsync, fdatasync, sync_file_range on a virtual file's descriptor (a socket: the kernel says EINVAL
 * or ESPIPE) or on a reopen's /dev/null succeed, so pg_dump's and pg_basebackup's sync passes work.
 * They promise nothing about durability: the object is stored when its upload ends (close/RESULT).
 * A descriptor the fd table does not know (inherited across exec, or a dup) is recognised after the
 * real call failed, by its peer address being the uploader's socket.
 */
#include <errno.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"

static int tracked(int fd) {
  struct fd_entry e;
  return fdt_get(fd, &e) != FD_NONE && fdt_validate(fd, &e);
}

enum sync_kind { SYNC_FSYNC, SYNC_FDATASYNC, SYNC_RANGE };

static int sync_real(enum sync_kind k, int fd, off64_t off, off64_t n, unsigned int flags) {
  switch (k) {
  case SYNC_FSYNC: return real_fsync(fd);
  case SYNC_FDATASYNC: return real_fdatasync(fd);
  case SYNC_RANGE: return real_sync_file_range(fd, off, n, flags);
  }
  return -1;
}

static int shim_sync(enum sync_kind k, int fd, off64_t off, off64_t n, unsigned int flags) {
  if (!shim_enter()) return sync_real(k, fd, off, n, flags);
  int saved = errno;
  int r = 0;
  if (!tracked(fd)) {
    r = sync_real(k, fd, off, n, flags);
    if (r != 0 && (errno == EINVAL || errno == ESPIPE) && conn_is_uploader_socket(fd)) r = 0;
  }
  if (r == 0) errno = saved;
  shim_leave();
  return r;
}

SHIM_EXPORT int fsync(int fd) { return shim_sync(SYNC_FSYNC, fd, 0, 0, 0); }

SHIM_EXPORT int fdatasync(int fd) { return shim_sync(SYNC_FDATASYNC, fd, 0, 0, 0); }

SHIM_EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  return shim_sync(SYNC_RANGE, fd, off, n, flags);
}
