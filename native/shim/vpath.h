/*
 * Is a path (absolute, relative to the cwd, or relative to a directory fd) a file under the virtual
 * directory? Purely lexical: the path is joined with the cwd (getcwd) or the dirfd's path
 * (readlink /proc/self/fd/N), then "." , ".." and empty segments are collapsed; symlinks are not
 * followed (the virtual directory's own path is matched both as given and as realpath()). Fixed
 * PATH_MAX buffers, no malloc.
 */
#ifndef DISKLESS_SHIM_VPATH_H
#define DISKLESS_SHIM_VPATH_H

#include <limits.h>

#include "shim.h"

enum vpath_kind {
  VPATH_OUTSIDE = 0, /* not under the virtual directory (or not a file name: "dir/", "x/..") */
  VPATH_FILE = 1,    /* a name strictly below the virtual directory: rel is filled */
  VPATH_ROOT = 2,    /* the virtual directory itself */
};

/* Classifies dirfd+path; for VPATH_FILE writes the normalised path relative to the virtual
 * directory (no leading '/', no "."/".."/empty segments) into rel[PATH_MAX]. Errors (path too long,
 * getcwd or readlink failing) classify as VPATH_OUTSIDE: the real call then reports them. */
SHIM_HIDDEN enum vpath_kind vpath_classify(int dirfd, const char *path, char rel[PATH_MAX]);

/* Lexically normalises an absolute path in place ("/a//b/./c/../d" -> "/a/b/d", "/.." -> "/").
 * Returns its new length. */
SHIM_HIDDEN size_t vpath_normalize(char *abs_path);

#endif
