/*
 * read, pread, pread64: say why a read of the stand-in fails (and read files of a stored backup:
 * see below). A virtual file reopened for writing
 * without O_TRUNC (for fsync), or opened read-only while it is still being written, gets a descriptor
 * of the stand-in directory (hook_open.c), so the kernel refuses the read (EISDIR) and no program
 * ever sees empty or wrong bytes; this hook only adds the line that names the cause, once per
 * process, also in a process that inherited the descriptor (gzip -c < V/f). Costs nothing unless a
 * read fails with EISDIR.
 *
 * A stored file read back (READ_OPEN: run --from, or a file written earlier in the run) whose bytes
 * did not check out (CRC32C, a failed GET) is cut off by the uploader with the canary unread (wire.def: READ_OPEN), which the kernel reports as
 * ECONNRESET; read() reports EIO instead, and says so once per descriptor's file. (stdio reads go
 * through libc's internal __read: fread then fails with ECONNRESET.)
 *
 * A read of such a file returns as many bytes as asked unless the file ends (or the descriptor is
 * non-blocking), as a regular file's read does: a socket returns what has arrived, and tar -xf
 * takes a short read for a damaged archive ("Unaligned block"). Only a short read pays for the
 * check (the fd table, or fstat + getpeername for a descriptor inherited across exec).
 */
#include <errno.h>
#include <sys/stat.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"

static int warned;

static void explain(int fd) {
  if (__atomic_load_n(&warned, __ATOMIC_RELAXED) || !shim_enter()) return;
  struct stat a, b;
  int saved = errno;
  if (shim_cfg.standin[0] != '\0' && real_fstat(fd, &a) == 0 && real_stat(shim_cfg.standin, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
    SHIM_LOG(SHIM_LOG_ERROR, "read of fd %d refused (EISDIR): it names a file under %s that was still being written when it "
             "was opened, or was opened for writing without O_TRUNC (for fsync); open it read-only once its writer closed it "
             "to read it back", fd, shim_cfg.vdir);
  }
  errno = saved;
  shim_leave();
}

/* ECONNRESET on a read socket: the uploader refused the rest of the file. */
static void read_cut_off(int fd) {
  if (!shim_enter()) return;
  struct fd_entry e;
  char rel[PATH_MAX] = "";
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ) rel[0] = '\0';
  if (rel[0] != '\0' || conn_is_read_socket(fd)) {
    SHIM_LOG(SHIM_LOG_ERROR, "read of %s (fd %d) failed (EIO): its stored bytes did not check out or could not be "
             "fetched (diskless names the object)", rel[0] ? rel : "a stored file", fd);
    errno = EIO;
  }
  shim_leave();
}

/* Is fd the socket a stored file is read from? */
static int is_backup_read(int fd) {
  if (fdt_peek(fd) == FD_READ) return 1;
  if (!shim_enter()) return 0;
  int yes = conn_is_read_socket(fd);
  shim_leave();
  return yes;
}

/* After a short read r of a backup file: read on until n bytes, the end, or an error. */
static ssize_t read_full(int fd, char *buf, size_t n, ssize_t r) {
  int saved = errno;
  while ((size_t)r < n) {
    ssize_t m = real_read(fd, buf + r, n - (size_t)r);
    if (m > 0) {
      r += m;
      continue;
    }
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && errno == ECONNRESET) {
      /* Reported once by the kernel: the bytes so far are of a file that did not check out. */
      read_cut_off(fd);
      return -1;
    }
    /* End of file, or an error (EAGAIN on a non-blocking fd): the bytes read so far; the error
     * (or EOF) comes again with the next read. */
    break;
  }
  errno = saved;
  return r;
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  shim_ensure();
  ssize_t r = real_read(fd, buf, n);
  if (r < 0 && errno == EISDIR) explain(fd);
  if (shim_cfg.read_socket_path_len == 0) return r; /* no stored file is read through this run's sockets */
  if (r < 0 && errno == ECONNRESET) read_cut_off(fd);
  else if (r > 0 && (size_t)r < n && is_backup_read(fd)) r = read_full(fd, buf, n, r);
  if (r > 0 && fdt_peek(fd) == FD_READ) fdt_add_pos(fd, (uint64_t)r);
  return r;
}

/* run --from: pread of a file of the backup (the socket said ESPIPE). The descriptor's stream and
 * position stay as they are: the bytes come from a stream of their own, opened at off (a ranged
 * GET) and closed after n bytes or the end. Right for occasional reads at an offset; each one
 * costs a new stream. -1 with ESPIPE for a descriptor this process does not know (inherited across
 * exec), with a line; EIO if the file did not check out. */
static ssize_t read_at(int fd, char *buf, size_t n, off64_t off) {
  if (!shim_enter()) {
    errno = ESPIPE;
    return -1;
  }
  struct fd_entry e;
  char rel[PATH_MAX] = "";
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ || !fdt_validate(fd, &e)) rel[0] = '\0';
  ssize_t r = -1;
  int sock = -1;
  int err = ESPIPE;
  if (rel[0] == '\0') {
    if (conn_is_read_socket(fd))
      SHIM_LOG(SHIM_LOG_ERROR, "pread of fd %d refused (ESPIPE): it reads a file of the backup under %s, and this process did "
               "not open it (inherited across exec): read it from start to end", fd, shim_cfg.vdir);
  } else if (off < 0) {
    err = EINVAL;
  } else if ((err = conn_read_open(rel, (uint64_t)off, &sock)) == 0) {
    r = 0;
    while ((size_t)r < n) {
      ssize_t m = real_read(sock, buf + r, n - (size_t)r);
      if (m > 0) {
        r += m;
        continue;
      }
      if (m == 0) break;
      if (errno == EINTR) continue;
      err = errno == ECONNRESET ? EIO : errno;
      if (err == EIO)
        SHIM_LOG(SHIM_LOG_ERROR, "pread of %s (fd %d) failed (EIO): its bytes in the backup could not be fetched (diskless names "
                 "the object)", rel, fd);
      r = -1;
      break;
    }
    real_close(sock);
  }
  shim_leave();
  if (r < 0) errno = err;
  return r;
}

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  shim_ensure();
  ssize_t r = real_pread(fd, buf, n, off);
  if (r < 0 && errno == EISDIR) explain(fd);
  else if (r < 0 && errno == ESPIPE && shim_cfg.read_mode) r = read_at(fd, buf, n, off);
  return r;
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  shim_ensure();
  ssize_t r = real_pread64(fd, buf, n, off);
  if (r < 0 && errno == EISDIR) explain(fd);
  else if (r < 0 && errno == ESPIPE && shim_cfg.read_mode) r = read_at(fd, buf, n, off);
  return r;
}
