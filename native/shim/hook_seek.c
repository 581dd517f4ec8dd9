/*
 * lseek/lseek64 on a virtual file's descriptor (a socket: the kernel says ESPIPE). A position query
 * (lseek(fd, 0, SEEK_CUR) as Python's open() does, lseek(fd, 0, SEEK_END), or a seek to where the
 * file already is) is answered with the file's size so far, which for a file written from start
 * to end is its position. Any other seek stays refused with ESPIPE, since faking it would corrupt
 * the object; the hook says why, once per process: a file under DISKLESS_DIR opened write-only
 * streams to S3 and must be written from start to end (pg_dump -Fc copes; a program that must
 * seek back can open the file O_RDWR, which holds it in memory up to --random-access-limit).
 * Seeks inside libc (ftello, fopen "a") use an internal symbol and are not seen here.
 *
 * A stored file read through fd (run --from, or read back in a write run) is a stream from the uploader
 * (READ_OPEN at an offset). Its position is tracked by the read() hook; a seek up to 4 MiB forward
 * reads and drops the bytes in between; any other seek opens a new stream at the new offset and dup3()s it over fd (same number, same FD_CLOEXEC and O_NONBLOCK), if
 * this process is certainly its only holder (not duplicated, no fork since): a copy held elsewhere
 * would keep reading the old stream. Otherwise ESPIPE, logged once. Seeks inside stdio (fseeko,
 * ftello) use libc's internal lseek and are not seen here: hook_stdio.c hooks them by name and
 * moves the stream with read_seek.
 *
 * ftruncate on such a descriptor (rsync --inplace truncates to the size it wrote) succeeds when
 * the length is the size so far; otherwise EINVAL, as the kernel says.
 */
#include <errno.h>

#include "conn.h"
#include "fd_table.h"
#include "random_access.h"
#include "read_fd.h"
#include "reentry.h"

static int warned;

/* Size so far of the virtual stream fd, if this process opened it (its path is known). */
static int stream_size(int fd, uint64_t *size) {
  struct fd_entry e;
  char rel[PATH_MAX];
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_VIRTUAL || rel[0] == '\0' || !fdt_validate(fd, &e)) return 0;
  return conn_stream_size(fd, rel, size) == 0;
}

/* What a descriptor whose seek failed is: a stream being written, one being read, or neither. */
static enum conn_peer peer_kind(int fd) {
  struct fd_entry e;
  if (fdt_get(fd, &e, NULL, 0) == FD_VIRTUAL && fdt_validate(fd, &e)) return CONN_PEER_WRITE;
  return conn_peer_of(fd);
}

/* A short seek forward reads and drops the bytes instead of a new stream (a GET): pg_restore skips
 * every data block of a -Fc archive it does not restore, a few KiB at a time. */
#define SKIP_BY_READING (4u << 20)

/* Reads and drops n bytes of fd (the position follows): 0; 1 if the caller must open a new stream
 * instead (EAGAIN on a non-blocking fd); -1 with EIO if the file did not check out (the uploader cut
 * it off: a new stream at an offset would not be checked). The end of the file before n bytes is
 * fine (a seek past it). */
static int skip_by_reading(int fd, uint64_t n) {
  char buf[16384];
  while (n > 0) {
    ssize_t m = real_read(fd, buf, n < sizeof buf ? (size_t)n : sizeof buf);
    if (m > 0) {
      n -= (uint64_t)m;
      fdt_add_pos(fd, (uint64_t)m);
      continue;
    }
    if (m == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EIO) {
      SHIM_LOG(SHIM_LOG_ERROR, "lseek on fd %d failed (EIO): the file's bytes in the backup did not check out", fd);
      errno = EIO;
      return -1;
    }
    return 1;
  }
  return 0;
}

/* The seek of a stored file read through fd (see above and read_fd.h; also for stdio's seeks,
 * hook_stdio.c); -1 with errno ESPIPE if it cannot be done. */
SHIM_HIDDEN off64_t read_seek(int fd, off64_t offset, int whence) {
  struct fd_entry e;
  char rel[PATH_MAX];
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ || rel[0] == '\0' || !fdt_validate(fd, &e)) {
    errno = ESPIPE; /* not opened by this process (inherited, passed on): shim_lseek says why */
    return -1;
  }
  uint64_t size = 0;
  int64_t mtime;
  int64_t target;
  if (whence == SEEK_SET) target = offset;
  else if (whence == SEEK_CUR) target = (int64_t)e.pos + offset;
  else if (whence == SEEK_END && conn_stat(rel, &size, &mtime) == 0) target = (int64_t)size + offset;
  else {
    errno = whence == SEEK_END ? EIO : EINVAL;
    return -1;
  }
  if (target < 0) {
    errno = EINVAL;
    return -1;
  }
  if ((uint64_t)target == e.pos) return target;
  if ((uint64_t)target > e.pos && (uint64_t)target - e.pos <= SKIP_BY_READING) {
    int skipped = skip_by_reading(fd, (uint64_t)target - e.pos);
    if (skipped < 0) return -1;
    if (skipped == 0) {
      fdt_set_pos(fd, (uint64_t)target);
      return target;
    }
  }
  if (!fdt_certainly_last(&e)) {
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
      SHIM_LOG(SHIM_LOG_ERROR, "lseek on fd %d (%s) refused (ESPIPE): the descriptor is shared (dup or fork), and a seek "
               "would move only this copy", fd, rel);
    errno = ESPIPE;
    return -1;
  }
  int nfd;
  int err = conn_read_open(rel, (uint64_t)target, &nfd);
  if (err != 0) {
    errno = err;
    return -1;
  }
  int fdflags = real_fcntl(fd, F_GETFD);
  int flflags = real_fcntl(fd, F_GETFL);
  if (flflags >= 0 && (flflags & O_NONBLOCK)) real_fcntl(nfd, F_SETFL, O_NONBLOCK);
  if (real_dup3(nfd, fd, fdflags >= 0 && (fdflags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
    err = errno;
    real_close(nfd);
    errno = err;
    return -1;
  }
  real_close(nfd);
  fdt_record_file(fd, FD_READ, -1, rel);
  fdt_set_pos(fd, (uint64_t)target);
  SHIM_LOG(SHIM_LOG_DEBUG, "lseek on fd %d (%s): reading again from byte %lld", fd, rel, (long long)target);
  return target;
}

static off64_t shim_lseek(int fd, off64_t offset, int whence) {
  shim_ensure(); /* binds real_lseek64, also for a call that comes before the constructor */
  off64_t r = real_lseek64(fd, offset, whence);
  if (r < 0 && errno == ESPIPE && shim_cfg.read_socket_path_len > 0 && shim_enter()) {
    /* Only a descriptor this process opened can seek (a new stream); an inherited one is only
     * explained below: no getpeername for every ESPIPE of every pipe. */
    if (fdt_peek(fd) == FD_READ) {
      int saved = errno;
      r = read_seek(fd, offset, whence);
      if (r >= 0) errno = saved;
      shim_leave();
      return r;
    }
    shim_leave();
    errno = ESPIPE;
  }
  if (r >= 0 && fdt_peek(fd) == FD_MEMORY && shim_enter()) {
    ra_note_position(fd, (uint64_t)r); /* a seek back makes a random-access file random for good */
    shim_leave();
  }
  if (r >= 0 || errno != ESPIPE || !shim_enter()) return r;
  int saved = errno;
  uint64_t size;
  if ((whence == SEEK_CUR || whence == SEEK_END || whence == SEEK_SET) && stream_size(fd, &size) &&
      ((whence != SEEK_SET && offset == 0) || (whence == SEEK_SET && (uint64_t)offset == size))) {
    shim_leave();
    errno = saved;
    return (off64_t)size;
  }
  /* Once per process (the first refused seek pays the one probe, whatever the descriptor). */
  enum conn_peer kind = __atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED) ? CONN_PEER_NONE : peer_kind(fd);
  if (kind == CONN_PEER_WRITE) {
    SHIM_LOG(SHIM_LOG_ERROR,
             "lseek on fd %d (offset %lld, whence %d) refused: files under %s opened write-only stream to S3 and "
             "must be written from start to end (open them O_RDWR to have them held in memory instead)",
             fd, (long long)offset, whence, shim_cfg.vdir);
  } else if (kind == CONN_PEER_READ) {
    SHIM_LOG(SHIM_LOG_ERROR, "lseek on fd %d refused (ESPIPE): it reads a stored file under %s, and this process did "
             "not open it (inherited or passed on): such a descriptor is read from start to end", fd, shim_cfg.vdir);
  }
  shim_leave();
  errno = saved;
  return r;
}

SHIM_EXPORT off_t lseek(int fd, off_t offset, int whence) { return (off_t)shim_lseek(fd, offset, whence); }

SHIM_EXPORT off64_t lseek64(int fd, off64_t offset, int whence) { return shim_lseek(fd, offset, whence); }

SHIM_HIDDEN int seek_truncate_stream(int fd, uint64_t len) {
  uint64_t size;
  if (!shim_enter()) return 0;
  int ok = stream_size(fd, &size) && size == len;
  if (!ok && peer_kind(fd) == CONN_PEER_WRITE)
    SHIM_LOG(SHIM_LOG_ERROR, "ftruncate of fd %d to %llu refused (EINVAL): a streamed file can only keep the size it was written to",
             fd, (unsigned long long)len);
  shim_leave();
  return ok;
}
