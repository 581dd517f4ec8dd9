/* See vpath.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vpath.h"

SHIM_HIDDEN size_t vpath_normalize(char *p) {
  /* p[0] == '/'. Segments are copied down over the buffer; `out` never passes `in`. */
  char *in = p, *out = p;
  while (*in != '\0') {
    while (*in == '/') in++;
    if (*in == '\0') break;
    char *seg = in;
    while (*in != '\0' && *in != '/') in++;
    size_t n = (size_t)(in - seg);
    if (n == 1 && seg[0] == '.') continue;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      while (out > p && *--out != '/') {
      }
      continue;
    }
    *out++ = '/';
    memmove(out, seg, n);
    out += n;
  }
  if (out == p) *out++ = '/';
  *out = '\0';
  return (size_t)(out - p);
}

/* Does the name denote a directory by its spelling ("x/", "x/.", "x/..", ".", "..")? */
static int spelled_as_directory(const char *path, size_t len) {
  if (len == 0) return 1;
  if (path[len - 1] == '/') return 1;
  if (path[len - 1] == '.') {
    if (len == 1 || path[len - 2] == '/') return 1;
    if (path[len - 2] == '.' && (len == 2 || path[len - 3] == '/')) return 1;
  }
  return 0;
}

static enum vpath_kind match(const char *norm, size_t nlen, const char *vdir, size_t vlen, char rel[PATH_MAX]) {
  if (vlen == 0 || nlen < vlen || memcmp(norm, vdir, vlen) != 0) return VPATH_OUTSIDE;
  if (nlen == vlen) return VPATH_ROOT;
  if (norm[vlen] != '/') return VPATH_OUTSIDE;
  size_t rlen = nlen - vlen - 1;
  if (rlen == 0 || rlen >= PATH_MAX) return VPATH_OUTSIDE;
  memcpy(rel, norm + vlen + 1, rlen + 1);
  return VPATH_FILE;
}

SHIM_HIDDEN enum vpath_kind vpath_classify(int dirfd, const char *path, char rel[PATH_MAX]) {
  char full[2 * PATH_MAX + 2];
  size_t base = 0;
  if (path == NULL || path[0] == '\0') return VPATH_OUTSIDE;
  size_t plen = strlen(path);
  if (plen >= PATH_MAX) return VPATH_OUTSIDE;
  if (path[0] != '/') {
    if (dirfd == AT_FDCWD) {
      if (getcwd(full, PATH_MAX) == NULL || full[0] != '/') return VPATH_OUTSIDE;
      base = strlen(full);
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      ssize_t n = readlink(link, full, PATH_MAX - 1);
      if (n <= 0 || full[0] != '/') return VPATH_OUTSIDE; /* not a directory path (socket:[..]) */
      base = (size_t)n;
    }
    full[base++] = '/';
  }
  memcpy(full + base, path, plen + 1);
  size_t nlen = vpath_normalize(full);
  enum vpath_kind k = match(full, nlen, shim_cfg.vdir, shim_cfg.vdir_len, rel);
  if (k == VPATH_OUTSIDE && shim_cfg.vdir_real_len > 0)
    k = match(full, nlen, shim_cfg.vdir_real, shim_cfg.vdir_real_len, rel);
  if (k == VPATH_FILE && spelled_as_directory(path, plen)) return VPATH_OUTSIDE;
  return k;
}
