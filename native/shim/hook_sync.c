/*
 * fsync, fdatasync, sync_file_range on a virtual file's descriptor (a socket: the kernel says EINVAL
 * or ESPIPE) or on a reopen's stand-in succeed, so pg_dump's and pg_basebackup's sync passes work.
 * On a reopen (the file was closed) they wait until the uploader has stored the file (wire.def:
 * SYNC) and fail with its errno if it was not: with `run --close received` the close returned
 * before that. On a descriptor still being written they promise nothing (the object is stored when
 * its upload ends: close/RESULT). A descriptor the fd table does not know (inherited across exec,
 * or a dup) is recognised after the real call failed, by its peer address being the uploader's socket.
 */
#include <errno.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"
#include "wire.h"

static int tracked(int fd) {
  struct fd_entry e;
  return fdt_get(fd, &e, NULL, 0) != FD_NONE && fdt_validate(fd, &e);
}

/* A reopen of a closed file: 0 once it is stored, or its errno. ENOENT (renamed or unlinked since,
 * or an uploader without SYNC) is no failure of this file. */
static int sync_reopened(int fd) {
  char rel[WIRE_MAX_PATH + 1];
  if (fdt_path(fd, rel, sizeof rel) != FD_REOPEN || rel[0] == '\0') return 0;
  int err = conn_sync(rel);
  return err == ENOENT || err == EPROTO ? 0 : err;
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
  } else {
    int err = sync_reopened(fd);
    if (err != 0) {
      errno = err;
      r = -1;
    }
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
