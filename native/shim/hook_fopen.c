/*
 * fopen, fopen64, freopen, freopen64. glibc's fopen opens through its internal __open, which the
 * shim cannot see, so stdio opens are hooked by name: the mode string is mapped to open flags, the
 * open logic of hook_open.c runs, and the descriptor is wrapped with fdopen().
 *
 * freopen of a virtual path keeps the stream object and its descriptor number (stdout stays 1):
 * the old stream is flushed (and, if it was a virtual file this process certainly holds last, its
 * upload result is awaited, as close() would), the new file is opened, the real freopen() points
 * the stream at /dev/null (which resets all stdio state: buffer, orientation, error flags), and the
 * new file's descriptor is dup3()'d over the stream's descriptor. dup2()ing straight onto the old
 * descriptor would keep stale stdio state; closing the stream would lose its identity.
 */
#include <errno.h>
#include <string.h>

#include "conn.h"
#include "fd_table.h"
#include "hook_open.h"
#include "random_access.h"
#include "read_fd.h"
#include "reentry.h"
#include "vpath.h"

/* glibc's rules: first character r/w/a, then up to six of + x b m c e; ",ccs=" ends the flags.
 * fdmode gets the mode without 'x' and 'e' (fdopen takes neither: the descriptor carries them). */
static int parse_mode(const char *mode, int *flags, char fdmode[16]) {
  int acc, extra = 0;
  size_t n = 0;
  switch (mode[0]) {
  case 'r': acc = O_RDONLY; break;
  case 'w': acc = O_WRONLY; extra = O_CREAT | O_TRUNC; break;
  case 'a': acc = O_WRONLY; extra = O_CREAT | O_APPEND; break;
  default: return -1;
  }
  fdmode[n++] = mode[0];
  for (int i = 1; i < 7 && mode[i] != '\0' && mode[i] != ','; i++) {
    switch (mode[i]) {
    case '+': acc = O_RDWR; fdmode[n++] = '+'; break;
    case 'x': extra |= O_EXCL; break;
    case 'e': extra |= O_CLOEXEC; break;
    case 'b': case 'm': case 'c': case 't': break;
    default: break;
    }
  }
  fdmode[n] = '\0';
  *flags = acc | extra;
  return 0;
}

/* A reopen returns the stand-in directory read-only (hook_open.c): a write mode would make fdopen fail. */
static const char *mode_for_fd(int fd, const char *fdmode) {
  int fl = real_fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_ACCMODE) == O_RDONLY) return "r";
  return fdmode;
}

static FILE *fopen_logic(enum open_variant v, FILE *(*real)(const char *, const char *), const char *path, const char *mode) {
  char rel[PATH_MAX], fdmode[16];
  int flags;
  if (path == NULL || mode == NULL || vpath_classify(AT_FDCWD, path, rel) != VPATH_FILE || parse_mode(mode, &flags, fdmode) != 0) {
    FILE *fp = real(path, mode);
    if (fp != NULL) fdt_forget(fileno(fp));
    return fp;
  }
  int saved = errno;
  int fd = open_classified(v, AT_FDCWD, path, VPATH_FILE, rel, flags, 0666);
  if (fd < 0) return NULL;
  FILE *fp = fdopen(fd, mode_for_fd(fd, fdmode));
  if (fp == NULL) {
    int err = errno;
    fdt_forget(fd);
    real_close(fd);
    errno = err;
    return NULL;
  }
  stdio_track_read(fp);
  errno = saved;
  return fp;
}

SHIM_EXPORT FILE *fopen(const char *path, const char *mode) {
  if (!shim_enter()) return real_fopen(path, mode);
  FILE *fp = fopen_logic(OV_OPEN, real_fopen, path, mode);
  shim_leave();
  return fp;
}

SHIM_EXPORT FILE *fopen64(const char *path, const char *mode) {
  if (!shim_enter()) return real_fopen64(path, mode);
  FILE *fp = fopen_logic(OV_OPEN64, real_fopen64, path, mode);
  shim_leave();
  return fp;
}

/* Ends the old stream's virtual file as close() would, before the stream is reused. */
static void finish_old_stream(FILE *stream) {
  int fd = fileno(stream);
  if (fd < 0) return;
  char what[64];
  snprintf(what, sizeof what, "freopen over fd %d", fd);
  int err = file_end_before_close(fd, 0, what);
  if (err != 0) SHIM_LOG(SHIM_LOG_ERROR, "%s: the previous file was not stored (%s); freopen cannot report it", what, strerror(err));
}

static FILE *freopen_logic(enum open_variant v, FILE *(*real)(const char *, const char *, FILE *), const char *path,
                           const char *mode, FILE *stream) {
  char rel[PATH_MAX], fdmode[16];
  int flags;
  if (path == NULL || mode == NULL || stream == NULL || vpath_classify(AT_FDCWD, path, rel) != VPATH_FILE ||
      parse_mode(mode, &flags, fdmode) != 0) {
    if (stream != NULL) {
      int old = fileno(stream);
      if (old >= 0) fdt_forget(old); /* real freopen closes it internally (a plain close: no wait) */
    }
    FILE *fp = real(path, mode, stream);
    if (fp != NULL) fdt_forget(fileno(fp));
    return fp;
  }
  int saved = errno;
  fflush(stream);
  finish_old_stream(stream);
  int fd = open_classified(v, AT_FDCWD, path, VPATH_FILE, rel, flags, 0666);
  if (fd < 0) {
    int err = errno;
    real_fclose(stream); /* freopen closes the stream when the new file cannot be opened */
    errno = err;
    return NULL;
  }
  FILE *fp = real("/dev/null", mode_for_fd(fd, fdmode), stream);
  int target = fp != NULL ? fileno(fp) : -1;
  if (target < 0 || real_dup3(fd, target, flags & O_CLOEXEC) < 0) {
    int err = errno;
    fdt_forget(fd);
    real_close(fd);
    if (fp != NULL) real_fclose(fp);
    errno = err;
    return NULL;
  }
  fdt_move(fd, target); /* the open file now lives at `target` only */
  real_close(fd);
  stdio_track_read(fp);
  errno = saved;
  return fp;
}

SHIM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream) {
  if (!shim_enter()) return real_freopen(path, mode, stream);
  FILE *fp = freopen_logic(OV_OPEN, real_freopen, path, mode, stream);
  shim_leave();
  return fp;
}

SHIM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream) {
  if (!shim_enter()) return real_freopen64(path, mode, stream);
  FILE *fp = freopen_logic(OV_OPEN64, real_freopen64, path, mode, stream);
  shim_leave();
  return fp;
}
