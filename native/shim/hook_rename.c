/*
 * rename, renameat, renameat2.
 *  - both names virtual files: RENAME request (the uploader makes it take effect after the source
 *    file's upload has ended);
 *  - the source is a real directory under the virtual directory, renamed within it: RENAME_DIR (the
 *    uploader moves the virtual files below it), then the real rename;
 *  - the source exists otherwise in the real file system (a local file under the virtual
 *    directory): real rename;
 *  - one side virtual, the other not: EXDEV, so mv(1) falls back to copy + unlink (copying a local
 *    file into the virtual directory uploads it);
 *  - neither: real rename.
 * In a --from run (DISKLESS_READ=1) any rename from or to a name under the directory is EROFS; with
 * --to as well (DISKLESS_READ=2) a placeholder of the backup is no real source: the uploader answers
 * the RENAME (EROFS for the backup's names).
 * renameat2 flags: RENAME_NOREPLACE is checked with a STAT before the RENAME (not atomic: the wire
 * protocol has no flags); RENAME_EXCHANGE and RENAME_WHITEOUT on virtual files are EINVAL.
 */
#include <errno.h>
#include <stdio.h>

#include "conn.h"
#include "reentry.h"
#include "vpath.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

enum rename_variant { RV_RENAME, RV_RENAMEAT, RV_RENAMEAT2 };

static int rename_real(enum rename_variant v, int od, const char *o, int nd, const char *n, unsigned int flags) {
  switch (v) {
  case RV_RENAME: return real_rename(o, n);
  case RV_RENAMEAT: return real_renameat(od, o, nd, n);
  case RV_RENAMEAT2:
    if (real_renameat2 != NULL) return real_renameat2(od, o, nd, n, flags);
    break;
  }
  errno = ENOSYS;
  return -1;
}

static int exists_real(int dirfd, const char *path) {
  struct stat st;
  int saved = errno;
  int yes = real_fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
  errno = saved;
  return yes;
}

/* A placeholder of the backup shown under the directory (a symlink there: the shim refuses to make
 * symlinks under it), which stands for a stored file, not a real entry. */
static int is_placeholder(int dirfd, const char *path) {
  struct stat st;
  int saved = errno;
  int yes = shim_cfg.read_mode && real_fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
  errno = saved;
  return yes;
}

static int is_real_dir(int dirfd, const char *path) {
  struct stat st;
  int saved = errno;
  int yes = real_fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  errno = saved;
  return yes;
}

/* A real directory under the virtual directory: its virtual files move first (RENAME_DIR), then
 * the directory itself. If the uploader refuses, nothing has moved. */
static int rename_dir(enum rename_variant v, int od, const char *o, int nd, const char *n, unsigned int flags,
                      const char *from, const char *to) {
  if (exists_real(nd, n) && !is_real_dir(nd, n)) return rename_real(v, od, o, nd, n, flags); /* ENOTDIR */
  int saved = errno;
  int err = conn_rename_dir(from, to);
  if (err != 0) {
    errno = err;
    return -1;
  }
  errno = saved;
  int r = rename_real(v, od, o, nd, n, flags);
  if (r != 0) {
    int e = errno;
    (void)conn_rename_dir(to, from); /* put the files back where the directory still is */
    errno = e;
  }
  return r;
}

static int rename_virtual(const char *from, const char *to, unsigned int flags) {
  if ((flags & ~(unsigned int)RENAME_NOREPLACE) != 0) {
    errno = EINVAL;
    return -1;
  }
  int saved = errno;
  if (flags & RENAME_NOREPLACE) {
    uint64_t size;
    int64_t mtime;
    if (conn_stat(to, &size, &mtime) == 0) {
      errno = EEXIST;
      return -1;
    }
  }
  int err = conn_rename(from, to);
  if (err != 0) {
    errno = err;
    return -1;
  }
  errno = saved;
  return 0;
}

static int rename_logic(enum rename_variant v, int od, const char *o, int nd, const char *n, unsigned int flags) {
  char from[PATH_MAX], to[PATH_MAX];
  enum vpath_kind kf = vpath_classify(od, o, from);
  enum vpath_kind kt = vpath_classify(nd, n, to);
  if (kf != VPATH_FILE && kt != VPATH_FILE) return rename_real(v, od, o, nd, n, flags);
  if (shim_cfg.read_mode == SHIM_READ_ONLY) {
    /* run --from: the directory shows a stored backup, which is read-only. */
    SHIM_LOG(SHIM_LOG_ERROR, "rename of %s to %s refused (EROFS): %s shows a stored backup (diskless run --from)", o, n, shim_cfg.vdir);
    errno = EROFS;
    return -1;
  }
  if (kf == VPATH_ROOT) return rename_real(v, od, o, nd, n, flags);
  if (kf == VPATH_FILE && exists_real(od, o) && !is_placeholder(od, o)) {
    if (kt == VPATH_FILE && is_real_dir(od, o)) return rename_dir(v, od, o, nd, n, flags, from, to);
    return rename_real(v, od, o, nd, n, flags);
  }
  if (kf == VPATH_FILE && kt == VPATH_FILE) return rename_virtual(from, to, flags);
  /* A nonexistent local source: let the real call say ENOENT. */
  if (kf == VPATH_OUTSIDE && !exists_real(od, o)) return rename_real(v, od, o, nd, n, flags);
  SHIM_LOG(SHIM_LOG_INFO, "rename %s -> %s: crosses the virtual directory's boundary (EXDEV)", o, n);
  errno = EXDEV;
  return -1;
}

static int shim_rename_variant(enum rename_variant v, int od, const char *o, int nd, const char *n, unsigned int flags) {
  if (!shim_enter()) return rename_real(v, od, o, nd, n, flags);
  int r = rename_logic(v, od, o, nd, n, flags);
  shim_leave();
  return r;
}

SHIM_EXPORT int rename(const char *from, const char *to) {
  return shim_rename_variant(RV_RENAME, AT_FDCWD, from, AT_FDCWD, to, 0);
}

SHIM_EXPORT int renameat(int fromdir, const char *from, int todir, const char *to) {
  return shim_rename_variant(RV_RENAMEAT, fromdir, from, todir, to, 0);
}

SHIM_EXPORT int renameat2(int fromdir, const char *from, int todir, const char *to, unsigned int flags) {
  return shim_rename_variant(RV_RENAMEAT2, fromdir, from, todir, to, flags);
}
