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
#include "random_access.h"
#include "wire.h"
#include "reentry.h"

/* What a close of fd must do for its file. */
enum ending { END_NONE, END_STREAM, END_MEMORY, END_ABANDON };

/* Removes fd's entry (into *e); says whether the caller must end the file's upload. A random-access
 * file (FD_MEMORY) with FD_CLOEXEC counts as unshared after a fork or spawn: a child that exec'ed
 * does not hold it (the usual case: subprocess while a tempfile is open). */
static enum ending take_entry(int fd, struct fd_entry *e) {
  if (fd < 0 || fdt_take(fd, e) == FD_NONE) return END_NONE;
  if (!fdt_validate(fd, e)) return END_NONE;
  if (e->kind == FD_VIRTUAL) return fdt_certainly_last(e) ? END_STREAM : END_NONE;
  if (e->kind != FD_MEMORY || e->owner != shim_pid || shim_in_foreign_child()) return END_NONE;
  if (fdt_certainly_last(e)) return END_MEMORY;
  int fdflags = real_fcntl(fd, F_GETFD);
  if (!e->shared && fdflags >= 0 && (fdflags & FD_CLOEXEC)) return END_MEMORY;
  return END_ABANDON;
}

/* Ends the file as the ending says; returns 0 or the errno close()/fclose() must report. */
static int end_file(int fd, struct fd_entry *e, enum ending how, const char *what) {
  switch (how) {
  case END_STREAM: return conn_finish_file(fd, what);
  case END_MEMORY: return ra_finish(fd, e);
  case END_ABANDON: ra_abandon(e); return EIO;
  case END_NONE: break;
  }
  return 0;
}

SHIM_HIDDEN int file_end_before_close(int fd, int broken, const char *what) {
  struct fd_entry e = {0};
  enum ending how = take_entry(fd, &e);
  if (broken && how != END_NONE) how = how == END_STREAM ? END_NONE : END_ABANDON;
  /* Not the last reference, or a descriptor inherited across exec (cmd > V/f): this holder's clean
   * end (wire.def: END). A broken stream (failed fflush) gets none: its file must fail. */
  if (how == END_NONE && !broken && fd >= 0 && (e.kind == FD_NONE || e.kind == FD_VIRTUAL) && conn_is_write_socket(fd))
    conn_end_mark(fd, WIRE_END_CLOSE);
  int err = end_file(fd, &e, how, what);
  fdt_release(&e);
  return err;
}

static int shim_close(int fd) {
  if (!shim_enter()) return real_close(fd);
  char what[48];
  snprintf(what, sizeof what, "close of fd %d", fd);
  int saved = errno;
  int err = file_end_before_close(fd, 0, what);
  int r = real_close(fd);
  if (err != 0) {
    errno = err;
    r = -1;
  } else if (r == 0) {
    errno = saved;
  }
  shim_leave();
  return r;
}

static int shim_fclose(FILE *fp) {
  if (!shim_enter()) return real_fclose(fp);
  int fd = fp != NULL ? fileno(fp) : -1;
  if (fd < 0) {
    shim_leave();
    return real_fclose(fp);
  }
  int r;
  int saved = errno;
  if (fflush(fp) != 0) {
    int err = errno; /* the data did not all reach the uploader: that is the error to report */
    file_end_before_close(fd, 1, "fclose");
    real_fclose(fp);
    errno = err;
    r = EOF;
  } else {
    char what[48];
    snprintf(what, sizeof what, "fclose of fd %d", fd);
    int err = file_end_before_close(fd, 0, what);
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
