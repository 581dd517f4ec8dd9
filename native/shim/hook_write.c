/*
 * write, pwrite, pwrite64, ftruncate, ftruncate64: the size limit of random-access files
 * (random_access.h). Any other descriptor costs one relaxed load of its fd-table kind. Writes
 * inside libc (stdio) are not seen here; such a file is checked at close.
 */
#include <errno.h>

#include "fd_table.h"
#include "random_access.h"
#include "reentry.h"

static int over_limit(int fd, uint64_t pos, uint64_t end) {
  if (fdt_peek(fd) != FD_MEMORY || !shim_enter()) return 0;
  ra_note_position(fd, pos);
  int err = ra_check_size(fd, pos, end);
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

/* Where a write() on fd lands: its position, or the end with O_APPEND. */
static uint64_t offset_of_write(int fd) {
  if (appending(fd)) {
    struct stat st;
    return real_fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
  }
  return position(fd);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY) {
    uint64_t at = offset_of_write(fd);
    if (over_limit(fd, at, at + n)) return -1;
  }
  return real_write(fd, buf, n); /* fd may be a stream now (a sequential file past the limit) */
}

/* A pwrite makes a random-access file random for good: it cannot become a stream. */
SHIM_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY) {
    fdt_mark_random(fd);
    if (over_limit(fd, (uint64_t)off, (uint64_t)off + n)) return -1;
  }
  return real_pwrite(fd, buf, n, off);
}

SHIM_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY) {
    fdt_mark_random(fd);
    if (over_limit(fd, (uint64_t)off, (uint64_t)off + n)) return -1;
  }
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
  if (fdt_peek(fd) == FD_MEMORY) {
    fdt_mark_random(fd);
    if (over_limit(fd, (uint64_t)len, (uint64_t)len)) return -1;
  }
  return truncated(fd, real_ftruncate(fd, len), (uint64_t)len);
}

SHIM_EXPORT int ftruncate64(int fd, off64_t len) {
  shim_ensure();
  if (fdt_peek(fd) == FD_MEMORY) {
    fdt_mark_random(fd);
    if (over_limit(fd, (uint64_t)len, (uint64_t)len)) return -1;
  }
  return truncated(fd, real_ftruncate64(fd, len), (uint64_t)len);
}
