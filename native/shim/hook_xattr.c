/*
 * getxattr, lgetxattr, listxattr, llistxattr, only in a --from run (DISKLESS_READ=1 or 2): a file of the
 * backup is a placeholder symlink to a path that never exists (docs/SHIM.md, "Reads"), so the
 * following calls fail with ENOENT, and `ls -l` (which asks for the POSIX ACL) prints an error for
 * every file. For a file the uploader knows, getxattr says the attribute is absent (ENODATA) and
 * listxattr lists none; the l* calls of a placeholder are answered the same (it is the file's stand-in).
 * Everything else, and every call outside a --from run, goes to libc as it is.
 */
#include <errno.h>
#include <sys/xattr.h>

#include "conn.h"
#include "reentry.h"
#include "vpath.h"

/* Is path a file of the backup (asked after the real call failed, or for a placeholder)? Keeps errno. */
static int backup_file(const char *path) {
  char rel[PATH_MAX];
  if (vpath_classify(AT_FDCWD, path, rel) != VPATH_FILE) return 0;
  int saved = errno;
  uint64_t size;
  int64_t mtime;
  int known = conn_stat(rel, &size, &mtime) == 0;
  errno = saved;
  return known;
}

static int answer_as_absent(ssize_t r, const char *path) {
  return shim_cfg.read_mode && (r >= 0 || errno == ENOENT) && backup_file(path);
}

SHIM_EXPORT ssize_t getxattr(const char *path, const char *name, void *value, size_t size) {
  if (!shim_enter()) return real_getxattr(path, name, value, size);
  ssize_t r = real_getxattr(path, name, value, size);
  if (r < 0 && answer_as_absent(r, path)) errno = ENODATA;
  shim_leave();
  return r;
}

SHIM_EXPORT ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size) {
  if (!shim_enter()) return real_lgetxattr(path, name, value, size);
  ssize_t r = real_lgetxattr(path, name, value, size);
  if (answer_as_absent(r, path)) {
    errno = ENODATA;
    r = -1;
  }
  shim_leave();
  return r;
}

SHIM_EXPORT ssize_t listxattr(const char *path, char *list, size_t size) {
  if (!shim_enter()) return real_listxattr(path, list, size);
  int saved = errno;
  ssize_t r = real_listxattr(path, list, size);
  if (r < 0 && answer_as_absent(r, path)) {
    errno = saved;
    r = 0;
  }
  shim_leave();
  return r;
}

SHIM_EXPORT ssize_t llistxattr(const char *path, char *list, size_t size) {
  if (!shim_enter()) return real_llistxattr(path, list, size);
  int saved = errno;
  ssize_t r = real_llistxattr(path, list, size);
  if (answer_as_absent(r, path)) {
    errno = saved;
    r = 0;
  }
  shim_leave();
  return r;
}
