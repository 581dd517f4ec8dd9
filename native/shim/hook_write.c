/*
 * write, pwrite, pwrite64, ftruncate, ftruncate64: the size limit of random-access files
 * (random_access.h). Any other descriptor costs one relaxed load of its fd-table kind. Writes
 * inside libc (stdio) are not seen here; such a file is checked at close.
 */
#include <errno.h>

#include "fd_table.h"
#include "random_access.h"
#include "reentry.h"

static int over_limit(int fd, uint64_t end) {
  if (fdt_peek(fd) != FD_MEMORY || !shim_enter()) return 0;
  int err = ra_check_size(fd, end);
  shim_leave();
  if (err != 0) errno = err;
  return err;
}

static uint64_t position(int fd) {
  off64_t p = real_lseek64(fd, 0, SEEK_CUR);
  return p < 0 ? 0 : (uint64_t)p;
}

static int appending(int fd) {
  int fl = real_fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_APPEND);
}

static uint64_t end_of_write(int fd, size_t n) {
  if (appending(fd)) {
    struct stat st;
    return fstat(fd, &st) == 0 ? (uint64_t)st.st_size + n : n;
  }
  return position(fd) + n;
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY && over_limit(fd, end_of_write(fd, n))) return -1;
  return real_write(fd, buf, n);
}

SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY && over_limit(fd, (uint64_t)off + n)) return -1;
  return real_pwrite(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY && over_limit(fd, (uint64_t)off + n)) return -1;
  return real_pwrite64(fd, buf, n, off);
}

/* hook_seek.c: is len the size so far of the virtual stream fd? (ftruncate then succeeds) */
SHIM_HIDDEN int seek_truncate_stream(int fd, uint64_t len);

static int truncated(int fd, int r, uint64_t len) {
  if (r == 0 || errno != EINVAL || fdt_peek(fd) != FD_VIRTUAL) return r;
  int saved = errno;
  if (seek_truncate_stream(fd, len)) return 0;
  errno = saved;
  return r;
}

SHIM_EXPORT int ftruncate(int fd, off_t len) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY && over_limit(fd, (uint64_t)len)) return -1;
  return truncated(fd, real_ftruncate(fd, len), (uint64_t)len);
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY && over_limit(fd, (uint64_t)len)) return -1;
  return truncated(fd, real_ftruncate64(fd, len), (uint64_t)len);
}
