/*
 * unlink, unlinkat (without AT_REMOVEDIR), remove. A virtual file's name goes to the uploader
 * (UNLINK) first; ENOENT from it means "no such virtual file", and the real call follows, since a
 * real local file or directory may exist under that name (gzip FILE in place unlinks its input).
 */
#include <errno.h>

#include "conn.h"
#include "reentry.h"
#include "vpath.h"

enum unlink_variant { UV_UNLINK, UV_UNLINKAT, UV_REMOVE };

static int unlink_real(enum unlink_variant v, int dirfd, const char *path, int flags) {
  switch (v) {
  case UV_UNLINK: return real_unlink(path);
  case UV_UNLINKAT: return real_unlinkat(dirfd, path, flags);
  case UV_REMOVE: return real_remove(path);
  }
  errno = ENOSYS;
  return -1;
}

static int shim_unlink_variant(enum unlink_variant v, int dirfd, const char *path, int flags) {
  if (!shim_enter()) return unlink_real(v, dirfd, path, flags);
  char rel[PATH_MAX];
  int r;
  if ((flags & AT_REMOVEDIR) != 0 || vpath_classify(dirfd, path, rel) != VPATH_FILE) {
    r = unlink_real(v, dirfd, path, flags);
  } else {
    int saved = errno;
    int err = conn_unlink(rel);
    if (err == 0) {
      errno = saved;
      r = 0;
    } else if (err == ENOENT) {
      errno = saved;
      r = unlink_real(v, dirfd, path, flags);
    } else {
      errno = err;
      r = -1;
    }
  }
  shim_leave();
  return r;
}

SHIM_EXPORT int unlink(const char *path) { return shim_unlink_variant(UV_UNLINK, AT_FDCWD, path, 0); }

SHIM_EXPORT int unlinkat(int dirfd, const char *path, int flags) {
  return shim_unlink_variant(UV_UNLINKAT, dirfd, path, flags);
}

SHIM_EXPORT int remove(const char *path) { return shim_unlink_variant(UV_REMOVE, AT_FDCWD, path, 0); }
