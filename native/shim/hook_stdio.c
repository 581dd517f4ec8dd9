/*
 * fseek, fseeko, fseeko64, ftell, ftello, ftello64, rewind, fgetpos, fgetpos64, fsetpos, fsetpos64
 * on a stream that reads a file of the backup (run --from: its descriptor is an FD_READ socket).
 * stdio seeks with libc's internal lseek, which no hook sees (ESPIPE from the socket), so these
 * public names are hooked; any other stream goes straight to libc.
 *
 * Where the stream is: stdio's reads use libc's internal read too, so the fd table's pos does not
 * count them; stdio itself does, in the FILE's _offset (the descriptor's position), once it knows
 * a start: stdio_track_read() sets it when fopen/freopen open such a file (position 0). The
 * logical position is then _offset minus what stdio still buffers (_IO_read_end - _IO_read_ptr,
 * plus the main buffer's rest while ungetc'd bytes are read: glibc's own ftello formula). stdio
 * forgets _offset at end of file (underflow sets it to -1): there the descriptor is at the larger
 * of the file's size and where its stream started. A stream whose start stdio never knew
 * (fdopen of such a descriptor, then reads) gets ESPIPE, with a line.
 *
 * A seek inside the buffer moves the read pointer (no I/O); any other moves the descriptor with
 * read_seek (hook_seek.c: read on up to 4 MiB, else a new stream at the offset, dup3'd over the
 * same fd; the same rules as lseek), then drops stdio's buffer (__fpurge), clears EOF and sets
 * _offset. ftello/fgetpos only compute: they also work on a descriptor shared with a forked
 * child (pg_restore -j's workers ask before they reopen the archive). Wide streams are left to
 * libc. Uses glibc's public FILE fields (bits/types/struct_FILE.h) and one flag of its libio.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio_ext.h>
#include <string.h>

#include "conn.h"
#include "fd_table.h"
#include "read_fd.h"
#include "reentry.h"

/* glibc libio.h: the stream reads bytes pushed back by ungetc (its get area is the backup area). */
#define SHIM_IO_IN_BACKUP 0x0100

static int warned;

/* The descriptor of fp if it is a byte stream on a file of the backup, else -1. */
static int read_stream_fd(FILE *fp) {
  shim_ensure();
  if (!shim_cfg.read_mode || fp == NULL || fp->_mode > 0) return -1;
  int fd = fp->_fileno;
  return fdt_peek(fd) == FD_READ ? fd : -1;
}

SHIM_HIDDEN void stdio_track_read(FILE *fp) {
  if (fp == NULL || fdt_peek(fp->_fileno) != FD_READ) return;
  flockfile(fp);
  struct fd_entry e;
  if (fdt_get(fp->_fileno, &e, NULL, 0) == FD_READ && fp->_IO_buf_base == NULL) fp->_offset = (off64_t)e.pos;
  funlockfile(fp);
}

/* Where fd is (bytes of the file before the socket's next byte); 0 or an errno. fp is locked. */
static int fd_position(FILE *fp, int fd, uint64_t *pos) {
  struct fd_entry e;
  char rel[PATH_MAX];
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ || rel[0] == '\0' || !fdt_validate(fd, &e)) return ESPIPE;
  if (fp->_offset >= 0) {
    *pos = (uint64_t)fp->_offset;
    return 0;
  }
  if (fp->_IO_buf_base == NULL) { /* stdio has read nothing: every read went through read() */
    *pos = e.pos;
    return 0;
  }
  if (fp->_flags & _IO_EOF_SEEN) {
    uint64_t size;
    int64_t mtime;
    int err = conn_stat(rel, &size, &mtime);
    if (err != 0) return err;
    *pos = e.pos > size ? e.pos : size;
    return 0;
  }
  if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
    SHIM_LOG(SHIM_LOG_ERROR, "seek or position query on the stdio stream of fd %d (%s) refused (ESPIPE): the stream was made "
             "with fdopen after reads, so where it is is not known; open the file with fopen", fd, rel);
  return ESPIPE;
}

/* Bytes stdio holds that the program has not read yet. */
static uint64_t buffered(FILE *fp) {
  uint64_t n = (uint64_t)(fp->_IO_read_end - fp->_IO_read_ptr);
  if (fp->_flags & SHIM_IO_IN_BACKUP) n += (uint64_t)(fp->_IO_save_end - fp->_IO_save_base);
  return n;
}

/* The logical position of fp; -1 with errno. fp is locked. */
static off64_t stream_tell(FILE *fp, int fd) {
  uint64_t pos;
  int err = fd_position(fp, fd, &pos);
  if (err != 0) {
    errno = err;
    return -1;
  }
  uint64_t held = buffered(fp);
  if (held > pos) {
    errno = EINVAL;
    return -1;
  }
  return (off64_t)(pos - held);
}

/* The descriptor is now at `at`: what stdio holds is of another place (ungetc's bytes too). */
static void drop_buffer(FILE *fp, off64_t at) {
  __fpurge(fp);
  fp->_IO_read_base = fp->_IO_read_ptr = fp->_IO_read_end = fp->_IO_buf_base;
  fp->_offset = at;
  fp->_flags &= ~_IO_EOF_SEEN;
}

/* fseeko on fp; 0, or -1 with errno. */
static int stream_seek(FILE *fp, int fd, off64_t offset, int whence) {
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) {
    errno = EINVAL;
    return -1;
  }
  flockfile(fp);
  int r = -1;
  uint64_t pos;
  int err = fd_position(fp, fd, &pos);
  if (err != 0) {
    errno = err;
    goto out;
  }
  if (whence == SEEK_CUR) {
    off64_t here = stream_tell(fp, fd);
    if (here < 0) goto out;
    offset += here;
    whence = SEEK_SET;
  }
  if (whence == SEEK_SET && offset < 0) {
    errno = EINVAL;
    goto out;
  }
  /* Inside what stdio holds of the file (the bytes before pos): move the read pointer only. */
  uint64_t have = (uint64_t)(fp->_IO_read_end - fp->_IO_read_base);
  if (whence == SEEK_SET && !(fp->_flags & SHIM_IO_IN_BACKUP) && fp->_IO_read_base != NULL && (uint64_t)offset <= pos &&
      pos - (uint64_t)offset <= have) {
    fp->_IO_read_ptr = fp->_IO_read_end - (pos - (uint64_t)offset);
    fp->_flags &= ~_IO_EOF_SEEN;
    r = 0;
    goto out;
  }
  fdt_set_pos(fd, pos);
  off64_t at = read_seek(fd, offset, whence);
  if (at >= 0) {
    drop_buffer(fp, at);
    r = 0;
    goto out;
  }
  err = errno;
  struct fd_entry e;
  if (fdt_get(fd, &e, NULL, 0) == FD_READ && e.pos != pos) drop_buffer(fp, (off64_t)e.pos); /* bytes were dropped before the failure */
  errno = err;
out:
  funlockfile(fp);
  return r;
}

static off64_t stream_tell_locked(FILE *fp, int fd) {
  flockfile(fp);
  off64_t r = stream_tell(fp, fd);
  funlockfile(fp);
  return r;
}

/* ---- the three layers: public name -> stream_seek/stream_tell -> real_* for any other stream ---- */

static int shim_fseek(FILE *fp, off64_t offset, int whence, int (*real)(FILE *, off64_t, int)) {
  int fd = read_stream_fd(fp);
  if (fd < 0 || !shim_enter()) return real(fp, offset, whence);
  int saved = errno;
  int r = stream_seek(fp, fd, offset, whence);
  if (r == 0) errno = saved;
  shim_leave();
  return r;
}

static off64_t shim_ftell(FILE *fp, off64_t (*real)(FILE *)) {
  int fd = read_stream_fd(fp);
  if (fd < 0 || !shim_enter()) return real(fp);
  int saved = errno;
  off64_t r = stream_tell_locked(fp, fd);
  if (r >= 0) errno = saved;
  shim_leave();
  return r;
}

static int call_fseek(FILE *fp, off64_t offset, int whence) {
  if (offset < LONG_MIN || offset > LONG_MAX) {
    errno = EOVERFLOW;
    return -1;
  }
  return real_fseek(fp, (long)offset, whence);
}
static int call_fseeko(FILE *fp, off64_t offset, int whence) { return real_fseeko(fp, (off_t)offset, whence); }
static int call_fseeko64(FILE *fp, off64_t offset, int whence) { return real_fseeko64(fp, offset, whence); }
static off64_t call_ftell(FILE *fp) { return real_ftell(fp); }
static off64_t call_ftello(FILE *fp) { return real_ftello(fp); }
static off64_t call_ftello64(FILE *fp) { return real_ftello64(fp); }

SHIM_EXPORT int fseek(FILE *fp, long offset, int whence) { return shim_fseek(fp, offset, whence, call_fseek); }

SHIM_EXPORT int fseeko(FILE *fp, off_t offset, int whence) { return shim_fseek(fp, offset, whence, call_fseeko); }

SHIM_EXPORT int fseeko64(FILE *fp, off64_t offset, int whence) { return shim_fseek(fp, offset, whence, call_fseeko64); }

SHIM_EXPORT long ftell(FILE *fp) {
  off64_t r = shim_ftell(fp, call_ftell);
  if (r > LONG_MAX) {
    errno = EOVERFLOW;
    return -1;
  }
  return (long)r;
}

SHIM_EXPORT off_t ftello(FILE *fp) { return (off_t)shim_ftell(fp, call_ftello); }

SHIM_EXPORT off64_t ftello64(FILE *fp) { return shim_ftell(fp, call_ftello64); }

SHIM_EXPORT void rewind(FILE *fp) {
  int fd = read_stream_fd(fp);
  if (fd < 0 || !shim_enter()) {
    real_rewind(fp);
    return;
  }
  int saved = errno;
  if (stream_seek(fp, fd, 0, SEEK_SET) == 0) errno = saved;
  clearerr(fp); /* rewind clears the error indicator whatever the seek did */
  shim_leave();
}

/* fpos_t and fpos64_t: the position, and a conversion state that a byte stream leaves zero. */
static int shim_getpos(FILE *fp, int fd, off64_t *at) {
  if (!shim_enter()) return 0;
  int saved = errno;
  *at = stream_tell_locked(fp, fd);
  if (*at >= 0) errno = saved;
  shim_leave();
  return 1;
}

static int shim_setpos(FILE *fp, int fd, off64_t at, int *r) {
  if (!shim_enter()) return 0;
  int saved = errno;
  *r = stream_seek(fp, fd, at, SEEK_SET);
  if (*r == 0) errno = saved;
  shim_leave();
  return 1;
}

SHIM_EXPORT int fgetpos(FILE *fp, fpos_t *pos) {
  int fd = read_stream_fd(fp);
  off64_t at;
  if (fd < 0 || !shim_getpos(fp, fd, &at)) return real_fgetpos(fp, pos);
  if (at < 0) return -1;
  memset(pos, 0, sizeof *pos);
  pos->__pos = (off_t)at;
  return 0;
}

SHIM_EXPORT int fgetpos64(FILE *fp, fpos64_t *pos) {
  int fd = read_stream_fd(fp);
  off64_t at;
  if (fd < 0 || !shim_getpos(fp, fd, &at)) return real_fgetpos64(fp, pos);
  if (at < 0) return -1;
  memset(pos, 0, sizeof *pos);
  pos->__pos = at;
  return 0;
}

SHIM_EXPORT int fsetpos(FILE *fp, const fpos_t *pos) {
  int fd = read_stream_fd(fp);
  int r;
  if (fd < 0 || !shim_setpos(fp, fd, (off64_t)pos->__pos, &r)) return real_fsetpos(fp, pos);
  return r;
}

SHIM_EXPORT int fsetpos64(FILE *fp, const fpos64_t *pos) {
  int fd = read_stream_fd(fp);
  int r;
  if (fd < 0 || !shim_setpos(fp, fd, pos->__pos, &r)) return real_fsetpos64(fp, pos);
  return r;
}
