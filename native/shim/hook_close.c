/*
 * close and fclose. For a descriptor this process certainly holds the last reference to (see
 * fd_table.h: opened here, never duplicated, no fork or spawn since), the end of the file is the
 * end of its upload: shut the write side down, wait for the uploader's RESULT, and report it as
 * close()'s or fclose()'s outcome (EIO if the connection dropped). Any other close of a tracked
 * descriptor is bookkeeping only and never blocks: blocking could deadlock (tar -czf's child closes
 * its copy before gzip, still to come, writes the data).
 *
 * fclose's own close happens inside libc (invisible), so fclose flushes, waits for the result on
 * fileno(fp), then calls the real fclose.
 */
#include <errno.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"

/* Removes fd's entry; returns 1 if the caller must end the upload (certainly the last reference). */
static int take_last_reference(int fd) {
  struct fd_entry e;
  if (fd < 0 || fdt_take(fd, &e) == FD_NONE) return 0;
  return fdt_certainly_last(&e) && fdt_validate(fd, &e);
}

static int shim_close(int fd) {
  if (!shim_enter()) return real_close(fd);
  int r;
  if (!take_last_reference(fd)) {
    r = real_close(fd);
  } else {
    char what[48];
    snprintf(what, sizeof what, "close of fd %d", fd);
    int saved = errno;
    int err = conn_finish_file(fd, what);
    r = real_close(fd);
    if (err != 0) {
      errno = err;
      r = -1;
    } else if (r == 0) {
      errno = saved;
    }
  }
  shim_leave();
  return r;
}

static int shim_fclose(FILE *fp) {
  if (!shim_enter()) return real_fclose(fp);
  int r;
  int fd = fp != NULL ? fileno(fp) : -1;
  if (!take_last_reference(fd)) {
    r = real_fclose(fp);
  } else if (fflush(fp) != 0) {
    int err = errno; /* the data did not all reach the uploader: that is the error to report */
    real_fclose(fp);
    errno = err;
    r = EOF;
  } else {
    char what[48];
    snprintf(what, sizeof what, "fclose of fd %d", fd);
    int saved = errno;
    int err = conn_finish_file(fd, what);
    r = real_fclose(fp);
    if (err != 0) {
      errno = err;
      r = EOF;
    } else if (r == 0) {
      errno = saved;
    }
  }
  shim_leave();
  return r;
}

SHIM_EXPORT int close(int fd) { return shim_close(fd); }

SHIM_EXPORT int fclose(FILE *fp) { return shim_fclose(fp); }
