/*
 * mkstemp, mkostemp, mkstemps, mkostemps and their *64 names. glibc creates the file with an
 * internal open (__gen_tempname -> __open_nocancel) that no hook sees, so a template under the
 * virtual directory (zip's temporary archive, Python's tempfile in dir=) would land on the local
 * disk. For such a template the shim makes the name itself and opens it through the open logic
 * (O_RDWR|O_CREAT|O_EXCL: a random-access file, random_access.c), retrying on EEXIST as glibc does.
 * Any other template goes to libc untouched.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "hook_open.h"
#include "reentry.h"
#include "vpath.h"

enum mkstemp_variant { MV_MKSTEMP, MV_MKSTEMP64, MV_MKOSTEMP, MV_MKOSTEMP64, MV_MKSTEMPS, MV_MKSTEMPS64, MV_MKOSTEMPS, MV_MKOSTEMPS64 };

static int mkstemp_real(enum mkstemp_variant v, char *t, int suffixlen, int flags) {
  switch (v) {
  case MV_MKSTEMP: return real_mkstemp(t);
  case MV_MKSTEMP64: return real_mkstemp64(t);
  case MV_MKOSTEMP: return real_mkostemp(t, flags);
  case MV_MKOSTEMP64: return real_mkostemp64(t, flags);
  case MV_MKSTEMPS: return real_mkstemps(t, suffixlen);
  case MV_MKSTEMPS64: return real_mkstemps64(t, suffixlen);
  case MV_MKOSTEMPS: return real_mkostemps(t, suffixlen, flags);
  case MV_MKOSTEMPS64: return real_mkostemps64(t, suffixlen, flags);
  }
  errno = ENOSYS;
  return -1;
}

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static int mkstemp_virtual(char *t, int suffixlen, int flags) {
  size_t len = strlen(t);
  if (suffixlen < 0 || len < 6 + (size_t)suffixlen || memcmp(t + len - (size_t)suffixlen - 6, "XXXXXX", 6) != 0) {
    errno = EINVAL;
    return -1;
  }
  char *x = t + len - (size_t)suffixlen - 6;
  int open_flags = O_RDWR | O_CREAT | O_EXCL | (flags & ~O_ACCMODE);
  for (int attempt = 0; attempt < 238328; attempt++) {
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
      uint64_t v = (uint64_t)shim_raw_getpid() * 2654435761u + (uint64_t)attempt * 40503u + (uint64_t)(uintptr_t)t;
      for (int i = 0; i < 6; i++) rnd[i] = (unsigned char)(v >> (i * 8));
    }
    for (int i = 0; i < 6; i++) x[i] = letters[rnd[i] % (sizeof letters - 1)];
    int fd = open_logic(OV_OPEN, AT_FDCWD, t, open_flags, 0600);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

static int shim_mkstemp(enum mkstemp_variant v, char *t, int suffixlen, int flags) {
  if (t == NULL || !shim_enter()) return mkstemp_real(v, t, suffixlen, flags);
  char rel[PATH_MAX];
  int r;
  if (vpath_classify(AT_FDCWD, t, rel) != VPATH_FILE) {
    r = mkstemp_real(v, t, suffixlen, flags);
  } else {
    int saved = errno;
    r = mkstemp_virtual(t, suffixlen, flags);
    if (r >= 0) errno = saved;
  }
  shim_leave();
  return r;
}

SHIM_EXPORT int mkstemp(char *t) { return shim_mkstemp(MV_MKSTEMP, t, 0, 0); }
SHIM_EXPORT int mkstemp64(char *t) { return shim_mkstemp(MV_MKSTEMP64, t, 0, 0); }
SHIM_EXPORT int mkostemp(char *t, int flags) { return shim_mkstemp(MV_MKOSTEMP, t, 0, flags); }
SHIM_EXPORT int mkostemp64(char *t, int flags) { return shim_mkstemp(MV_MKOSTEMP64, t, 0, flags); }
SHIM_EXPORT int mkstemps(char *t, int suffixlen) { return shim_mkstemp(MV_MKSTEMPS, t, suffixlen, 0); }
SHIM_EXPORT int mkstemps64(char *t, int suffixlen) { return shim_mkstemp(MV_MKSTEMPS64, t, suffixlen, 0); }
SHIM_EXPORT int mkostemps(char *t, int suffixlen, int flags) { return shim_mkstemp(MV_MKOSTEMPS, t, suffixlen, flags); }
SHIM_EXPORT int mkostemps64(char *t, int suffixlen, int flags) { return shim_mkstemp(MV_MKOSTEMPS64, t, suffixlen, flags); }
