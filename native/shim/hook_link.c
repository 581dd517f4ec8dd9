/*
 * symlink, symlinkat, link, linkat. A symbolic or hard link whose new name is under the virtual
 * directory cannot be stored (S3 has no links, and the manifest does not describe them yet): it is
 * refused with EPERM, a line on stderr, and a FAIL to the uploader, so the run fails (exit 5)
 * even when the program ignores the error (cp -r warns and goes on). Links elsewhere pass through.
 */
#include <errno.h>

#include "conn.h"
#include "reentry.h"
#include "vpath.h"

static int refuse(const char *kind, const char *rel, const char *target) {
  if (rel[0] == '\0') rel = ".";
  conn_fail(rel, "%s %s -> %s refused (EPERM): links cannot be stored in the virtual directory; "
            "copy the file instead (cp -L, rsync -L, tar -h)", kind, rel, target != NULL ? target : "?");
  errno = EPERM;
  return -1;
}

static int is_virtual_name(int dirfd, const char *path, char rel[PATH_MAX]) {
  rel[0] = '\0';
  return path != NULL && vpath_classify(dirfd, path, rel) != VPATH_OUTSIDE;
}

SHIM_EXPORT int symlink(const char *target, const char *linkpath) {
  if (!shim_enter()) return real_symlink(target, linkpath);
  char rel[PATH_MAX];
  int r = is_virtual_name(AT_FDCWD, linkpath, rel) ? refuse("symlink", rel, target) : real_symlink(target, linkpath);
  shim_leave();
  return r;
}

SHIM_EXPORT int symlinkat(const char *target, int dirfd, const char *linkpath) {
  if (!shim_enter()) return real_symlinkat(target, dirfd, linkpath);
  char rel[PATH_MAX];
  int r = is_virtual_name(dirfd, linkpath, rel) ? refuse("symlink", rel, target) : real_symlinkat(target, dirfd, linkpath);
  shim_leave();
  return r;
}

SHIM_EXPORT int link(const char *oldpath, const char *newpath) {
  if (!shim_enter()) return real_link(oldpath, newpath);
  char rel[PATH_MAX];
  int r = is_virtual_name(AT_FDCWD, newpath, rel) ? refuse("hard link", rel, oldpath) : real_link(oldpath, newpath);
  shim_leave();
  return r;
}

SHIM_EXPORT int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  if (!shim_enter()) return real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  char rel[PATH_MAX];
  int r = is_virtual_name(newdirfd, newpath, rel) ? refuse("hard link", rel, oldpath)
              : real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
  shim_leave();
  return r;
}
