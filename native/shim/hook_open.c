/*
 * open, open64, __open, __open64, __open_2, __open64_2, openat, openat64, __openat_2,
 * __openat64_2, creat, creat64.
 *
 * Under the virtual directory:
 *  - an open for writing only that creates, truncates or appends (O_WRONLY with O_CREAT, O_TRUNC or
 *    O_APPEND; creat) becomes an OPEN conversation; the connected socket is the application's
 *    descriptor, so every write path (write, stdio, zlib, dup2, fork, exec) needs no hook;
 *  - the same with O_RDWR (mkstemp, tempfile, rsync, sqlite3, zip) is a random-access file held in
 *    memory and sent at close (random_access.c);
 *  - a read-only open that creates nothing, of a name the real file system does not have, asks the
 *    uploader for the stored file (READ_OPEN on the read socket, the same read path as run --from:
 *    the socket is the application's descriptor, fed from S3); a file still being written gets the
 *    stand-in below;
 *  - any other open (a reopen: pg_dump's sync pass, durable_rename) tries the real file system
 *    first (directories and local files stay real); on ENOENT it asks the uploader (STAT) and, for
 *    a known virtual file, returns a read-only descriptor of the stand-in directory
 *    ($DISKLESS_STANDIN, empty and private to the run): fsync works, a read fails with EISDIR and a
 *    write with EBADF, so stored bytes are never faked as empty, and fchmod/fchown touch nothing of
 *    the host (no /dev/null stand-in: rsync -a once chmod'ed the host's /dev/null through it);
 *  - O_TMPFILE is refused (EOPNOTSUPP): a nameless file cannot be streamed anywhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "conn.h"
#include "fd_table.h"
#include "hook_open.h"
#include "random_access.h"
#include "reentry.h"
#include "vpath.h"
#include "wire.h"

SHIM_HIDDEN int open_real(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode) {
  switch (v) {
  case OV_OPEN: return real_open(path, flags, mode);
  case OV_OPEN64: return real_open64(path, flags, mode);
  case OV___OPEN: return real___open != NULL ? real___open(path, flags, mode) : real_open(path, flags, mode);
  case OV___OPEN64: return real___open64 != NULL ? real___open64(path, flags, mode) : real_open64(path, flags, mode);
  case OV___OPEN_2: return real___open_2(path, flags);
  case OV___OPEN64_2: return real___open64_2(path, flags);
  case OV_OPENAT: return real_openat(dirfd, path, flags, mode);
  case OV_OPENAT64: return real_openat64(dirfd, path, flags, mode);
  case OV___OPENAT_2: return real___openat_2(dirfd, path, flags);
  case OV___OPENAT64_2: return real___openat64_2(dirfd, path, flags);
  case OV_CREAT: return real_creat(path, mode);
  case OV_CREAT64: return real_creat64(path, mode);
  }
  errno = ENOSYS;
  return -1;
}

/* A real open whose new descriptor may reuse a number with a stale table entry. */
static int pass_through(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode) {
  int fd = open_real(v, dirfd, path, flags, mode);
  if (fd >= 0) fdt_forget(fd);
  return fd;
}

static int open_standin(const char *rel, int flags) {
  if (shim_cfg.standin[0] == '\0') {
    SHIM_LOG(SHIM_LOG_ERROR, "reopen of %s refused (ENXIO): no stand-in directory (%s unset)", rel, WIRE_ENV_STANDIN);
    errno = ENXIO;
    return -1;
  }
  /* Always read-only, also for O_RDWR (pg_dump's fsync_fname opens files O_RDWR): a write then
   * fails with EBADF instead of being discarded. */
  int fd = real_open(shim_cfg.standin, O_RDONLY | O_DIRECTORY | (flags & O_CLOEXEC));
  if (fd < 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "reopen of %s: cannot open the stand-in directory %s (%s)", rel, shim_cfg.standin, strerror(errno));
    errno = ENXIO;
    return -1;
  }
  fdt_record_file(fd, FD_REOPEN, -1, rel); /* the path: an fsync of it waits until the file is stored (SYNC) */
  SHIM_LOG(SHIM_LOG_INFO, "reopen of %s: fsync works, reads through this descriptor fail with EISDIR", rel);
  return fd;
}

static int open_for_writing(const char *rel, int flags, mode_t mode) {
  int fd;
  int err = conn_open_file(rel, flags, mode, &fd);
  if (err != 0) {
    errno = err;
    return -1;
  }
  /* The request socket is born CLOEXEC (no leak into a concurrent fork+exec during the
   * handshake); the application's descriptor is CLOEXEC only if it asked (tar hands it to gzip). */
  if ((flags & O_CLOEXEC) == 0) real_fcntl(fd, F_SETFD, 0);
  fdt_record_file(fd, FD_VIRTUAL, -1, rel);
  return fd;
}

/* A read-only open of a stored file: a file of the backup of a --from run, or one written earlier in
 * this run, read through the uploader (READ_OPEN). A name the uploader does not have (a directory of
 * the tree, a name that does not exist) is opened for real; a file of this run still being written
 * (EBUSY) gets the stand-in, whose reads fail with EISDIR. */
static int open_stored(enum open_variant v, int dirfd, const char *path, const char *rel, int flags, mode_t mode) {
  int fd;
  int err = conn_read_open(rel, 0, &fd);
  if (err == ENOENT) return pass_through(v, dirfd, path, flags, mode);
  if (err == EBUSY) return open_standin(rel, flags);
  if (err != 0) {
    errno = err;
    return -1;
  }
  if ((flags & O_CLOEXEC) == 0) real_fcntl(fd, F_SETFD, 0);
  fdt_record_file(fd, FD_READ, -1, rel);
  return fd;
}

/* run --from (without --to): the directory shows a stored backup, which is read-only. */
static int open_for_reading(enum open_variant v, int dirfd, const char *path, const char *rel, int flags, mode_t mode) {
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "open of %s for writing refused (EROFS): %s shows a stored backup (diskless run --from), "
             "which is read-only", rel, shim_cfg.vdir);
    errno = EROFS;
    return -1;
  }
  return open_stored(v, dirfd, path, rel, flags, mode);
}

/* O_RDONLY|O_CREAT of a name that does not exist: create an empty object, then behave as a reopen. */
static int create_empty(const char *rel, int flags, mode_t mode) {
  int fd;
  int err = conn_open_file(rel, flags, mode, &fd);
  if (err == 0) {
    err = conn_finish_file(fd, rel);
    real_close(fd);
  }
  if (err != 0) {
    errno = err;
    return -1;
  }
  return open_standin(rel, flags);
}

static int reopen(enum open_variant v, int dirfd, const char *path, const char *rel, int flags, mode_t mode) {
  int creating = (flags & O_CREAT) != 0; /* only O_RDONLY|O_CREAT gets here */
  int fd = pass_through(v, dirfd, path, flags & ~(O_CREAT | O_EXCL), mode);
  if (fd >= 0) {
    if (creating && (flags & O_EXCL)) {
      real_close(fd);
      errno = EEXIST;
      return -1;
    }
    return fd;
  }
  if (errno != ENOENT) return -1;
  uint64_t size;
  int64_t mtime;
  int err = conn_stat(rel, &size, &mtime);
  if (err == 0) {
    if (creating && (flags & O_EXCL)) {
      errno = EEXIST;
      return -1;
    }
    return open_standin(rel, flags);
  }
  if (err == ENOENT && creating) return create_empty(rel, flags, mode);
  errno = err;
  return -1;
}

SHIM_HIDDEN int open_logic(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode) {
  char rel[PATH_MAX];
  /* A read-only open that creates nothing gets the real open's answer in every class of path when
   * the real open succeeds or fails otherwise than ENOENT (outside: passed through; a virtual file:
   * reopen() tries the real open first). So try it before classifying the path, which for a path
   * relative to a dirfd costs a readlink of /proc/self/fd/N: a program reading the host's files
   * (tar of /usr, issue 13 goal 6, bench/shim-overhead.sh) then pays nothing. Not in a --from run,
   * whose files are dangling symlinks (ELOOP with O_NOFOLLOW, not ENOENT). */
  if (!shim_cfg.read_mode && (flags & O_ACCMODE) == O_RDONLY && (flags & (O_CREAT | O_TRUNC)) == 0 &&
      (flags & O_TMPFILE) != O_TMPFILE) {
    int saved = errno;
    int fd = pass_through(v, dirfd, path, flags, mode);
    if (fd >= 0) {
      errno = saved;
      return fd;
    }
    if (errno != ENOENT) return -1;
    errno = saved;
  }
  enum vpath_kind k = vpath_classify(dirfd, path, rel);
  return open_classified(v, dirfd, path, k, rel, flags, mode);
}

SHIM_HIDDEN int open_classified(enum open_variant v, int dirfd, const char *path, enum vpath_kind k, const char *rel,
                                int flags, mode_t mode) {
  if (k == VPATH_OUTSIDE) return pass_through(v, dirfd, path, flags, mode);
  if ((flags & O_TMPFILE) == O_TMPFILE) {
    SHIM_LOG(SHIM_LOG_ERROR, "open(%s, O_TMPFILE): a nameless temporary file cannot be stored in the virtual directory; "
             "refused with EOPNOTSUPP (the application may fall back to a named file)", path);
    errno = EOPNOTSUPP;
    return -1;
  }
  if (k == VPATH_ROOT || (flags & (O_DIRECTORY | O_PATH)) != 0) return pass_through(v, dirfd, path, flags, mode);
  int saved = errno;
  int fd;
  if (shim_cfg.read_mode == SHIM_READ_ONLY)
    fd = open_for_reading(v, dirfd, path, rel, flags, mode);
  else if ((flags & O_ACCMODE) == O_RDWR && (flags & (O_CREAT | O_TRUNC | O_APPEND)) != 0)
    fd = ra_open(rel, flags, mode);
  else if ((flags & O_ACCMODE) != O_RDONLY && (flags & (O_CREAT | O_TRUNC | O_APPEND)) != 0)
    fd = open_for_writing(rel, flags, mode);
  else if (shim_cfg.read_socket_path_len > 0 && (flags & O_ACCMODE) == O_RDONLY && (flags & (O_CREAT | O_TRUNC | O_APPEND)) == 0)
    fd = open_stored(v, dirfd, path, rel, flags, mode);
  else
    fd = reopen(v, dirfd, path, rel, flags, mode);
  if (fd >= 0) errno = saved;
  return fd;
}

static int shim_open_variant(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode) {
  if (!shim_enter()) return open_real(v, dirfd, path, flags, mode);
  int fd = open_logic(v, dirfd, path, flags, mode);
  shim_leave();
  return fd;
}

/* ---- public adapters: read the mode only when the flags say there is one -------------------- */
#define MODE_ARG(flags, last)                                                                      \
  mode_t mode = 0;                                                                                 \
  if (SHIM_OPEN_NEEDS_MODE(flags)) {                                                               \
    va_list ap;                                                                                    \
    va_start(ap, last);                                                                            \
    mode = va_arg(ap, mode_t);                                                                     \
    va_end(ap);                                                                                    \
  }

SHIM_EXPORT int open(const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV_OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int open64(const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV_OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int __open(const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV___OPEN, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int __open64(const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV___OPEN64, AT_FDCWD, path, flags, mode);
}

SHIM_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV_OPENAT, dirfd, path, flags, mode);
}

SHIM_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, flags);
  return shim_open_variant(OV_OPENAT64, dirfd, path, flags, mode);
}

/* Fortify entry points (-D_FORTIFY_SOURCE with non-constant flags): no mode argument. With
 * O_CREAT/O_TMPFILE the real one aborts ("invalid open call"); keep that behaviour. */
SHIM_EXPORT int __open_2(const char *path, int flags) {
  if (SHIM_OPEN_NEEDS_MODE(flags)) return (shim_ensure(), real___open_2(path, flags));
  return shim_open_variant(OV___OPEN_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __open64_2(const char *path, int flags) {
  if (SHIM_OPEN_NEEDS_MODE(flags)) return (shim_ensure(), real___open64_2(path, flags));
  return shim_open_variant(OV___OPEN64_2, AT_FDCWD, path, flags, 0);
}

SHIM_EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  if (SHIM_OPEN_NEEDS_MODE(flags)) return (shim_ensure(), real___openat_2(dirfd, path, flags));
  return shim_open_variant(OV___OPENAT_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  if (SHIM_OPEN_NEEDS_MODE(flags)) return (shim_ensure(), real___openat64_2(dirfd, path, flags));
  return shim_open_variant(OV___OPENAT64_2, dirfd, path, flags, 0);
}

SHIM_EXPORT int creat(const char *path, mode_t mode) {
  return shim_open_variant(OV_CREAT, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

SHIM_EXPORT int creat64(const char *path, mode_t mode) {
  return shim_open_variant(OV_CREAT64, AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
