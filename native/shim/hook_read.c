/*
 * read, pread, pread64: say why a read of a stored virtual file fails. A reopen of such a file gets
 * a descriptor of the stand-in directory (hook_open.c), so the kernel already refuses the read
 * (EISDIR) and no program ever sees empty or wrong bytes; this hook only adds the line that names
 * the cause, once per process, also in a process that inherited the descriptor (gzip -c < V/f).
 * Reading back stored files is not supported yet. Costs nothing unless a read fails with EISDIR.
 */
#include <errno.h>
#include <sys/stat.h>

#include "reentry.h"

static int warned;

static void explain(int fd) {
  if (__atomic_load_n(&warned, __ATOMIC_RELAXED) || !shim_enter()) return;
  struct stat a, b;
  int saved = errno;
  if (shim_cfg.standin[0] != '\0' && fstat(fd, &a) == 0 && real_stat(shim_cfg.standin, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
    SHIM_LOG(SHIM_LOG_ERROR, "read of fd %d refused (EISDIR): it is a file stored earlier in this run under %s, and diskless "
             "cannot read stored files back yet; keep a local copy of what the program must read again", fd, shim_cfg.vdir);
  }
  errno = saved;
  shim_leave();
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  shim_ensure();
  ssize_t r = real_read(fd, buf, n);
  if (r < 0 && errno == EISDIR) explain(fd);
  return r;
}

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  shim_ensure();
  ssize_t r = real_pread(fd, buf, n, off);
  if (r < 0 && errno == EISDIR) explain(fd);
  return r;
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  shim_ensure();
  ssize_t r = real_pread64(fd, buf, n, off);
  if (r < 0 && errno == EISDIR) explain(fd);
  return r;
}
