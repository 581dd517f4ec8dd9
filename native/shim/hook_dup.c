/*
 * dup, dup2, dup3, fcntl(F_DUPFD, F_DUPFD_CLOEXEC), fcntl64: bookkeeping only. Duplicating a
 * virtual file's descriptor makes it shared (its close will no longer wait for the upload: the
 * other copy may still be written, e.g. bash's open + dup2(3, 1) + close(3) + exec). The new
 * descriptor number is forgotten (a stale entry there would be wrong), and dup2/dup3 onto a tracked
 * descriptor drops that entry: the real call closes it silently, which never waits.
 */
#include <errno.h>
#include <stdarg.h>

#include "conn.h"
#include "fd_table.h"
#include "wire.h"
#include "reentry.h"

static void after_dup(int oldfd, int newfd) {
  if (newfd < 0 || newfd == oldfd || !shim_enter()) return;
  fdt_forget(newfd);
  fdt_mark_shared(oldfd);
  shim_leave();
}

SHIM_EXPORT int dup(int fd) {
  shim_ensure();
  int r = real_dup(fd);
  after_dup(fd, r);
  return r;
}

/* dup2/dup3 over a virtual file's descriptor closes it silently: mark this holder's clean end. */
static void before_replace(int oldfd, int newfd) {
  if (newfd < 0 || newfd == oldfd) return;
  enum fd_kind k = fdt_peek(newfd);
  if ((k != FD_NONE && k != FD_VIRTUAL) || !shim_enter()) return;
  if (conn_is_write_socket(newfd)) conn_end_mark(newfd, WIRE_END_REPLACED);
  shim_leave();
}

SHIM_EXPORT int dup2(int oldfd, int newfd) {
  shim_ensure();
  before_replace(oldfd, newfd);
  int r = real_dup2(oldfd, newfd);
  after_dup(oldfd, r);
  return r;
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags) {
  shim_ensure();
  before_replace(oldfd, newfd);
  int r = real_dup3(oldfd, newfd, flags);
  after_dup(oldfd, r);
  return r;
}

/* The third argument is an int or a pointer depending on cmd; like glibc, pass it on as a pointer. */
static int shim_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
  int r = real(fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) after_dup(fd, r);
  return r;
}

SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  shim_ensure();
  return shim_fcntl(real_fcntl, fd, cmd, arg);
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  shim_ensure();
  return shim_fcntl(real_fcntl64 != NULL ? real_fcntl64 : real_fcntl, fd, cmd, arg);
}
