/*
 * chmod, fchmodat, chown, lchown, fchownat, utimensat, utimes, utime on a virtual file: S3 objects
 * have no mode, owner or times to change, so for a file the uploader knows these succeed and change
 * nothing (tools such as pg_basebackup -Fp and gzip set permissions on what they write). The real
 * call runs first (directories are real); only its ENOENT for a virtual file name is turned into
 * success. On a virtual descriptor, fchmod/fchown/futimens reach the kernel's socket, which accepts them.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/time.h>
#include <utime.h>

#include "conn.h"
#include "reentry.h"
#include "vpath.h"

/* After a real call failed: is dirfd+path a file the uploader knows? Keeps errno. */
static int known_virtual(int dirfd, const char *path) {
  char rel[PATH_MAX];
  uint64_t size;
  int64_t mtime_ns;
  if (errno != ENOENT || path == NULL || vpath_classify(dirfd, path, rel) != VPATH_FILE) return 0;
  int saved = errno;
  int known = conn_stat(rel, &size, &mtime_ns) == 0;
  errno = saved;
  return known;
}

/* The result of a real call r, or 0 if it failed only because the file is virtual. */
static int settle(int r, int dirfd, const char *path) {
  if (r == 0 || !shim_enter()) return r;
  int saved = errno;
  if (known_virtual(dirfd, path)) {
    SHIM_LOG(SHIM_LOG_DEBUG, "metadata change of virtual file %s ignored (S3 objects have none)", path);
    r = 0;
  }
  errno = saved;
  shim_leave();
  return r;
}

SHIM_EXPORT int chmod(const char *path, mode_t mode) {
  shim_ensure();
  return settle(real_chmod(path, mode), AT_FDCWD, path);
}

SHIM_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
  shim_ensure();
  return settle(real_fchmodat(dirfd, path, mode, flags), dirfd, path);
}

SHIM_EXPORT int chown(const char *path, uid_t uid, gid_t gid) {
  shim_ensure();
  return settle(real_chown(path, uid, gid), AT_FDCWD, path);
}

SHIM_EXPORT int lchown(const char *path, uid_t uid, gid_t gid) {
  shim_ensure();
  return settle(real_lchown(path, uid, gid), AT_FDCWD, path);
}

SHIM_EXPORT int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) {
  shim_ensure();
  return settle(real_fchownat(dirfd, path, uid, gid, flags), dirfd, path);
}

SHIM_EXPORT int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) {
  shim_ensure();
  return settle(real_utimensat(dirfd, path, times, flags), dirfd, path);
}

SHIM_EXPORT int utimes(const char *path, const struct timeval times[2]) {
  shim_ensure();
  return settle(real_utimes(path, times), AT_FDCWD, path);
}

SHIM_EXPORT int utime(const char *path, const struct utimbuf *times) {
  shim_ensure();
  return settle(real_utime(path, times), AT_FDCWD, path);
}
