/* See random_access.h. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "conn.h"
#include "random_access.h"

static int warned_limit;

static void say_limit(const char *path, uint64_t size) {
  if (__atomic_exchange_n(&warned_limit, 1, __ATOMIC_RELAXED)) return;
  shim_log(SHIM_LOG_ERROR,
           "%s: a file opened for reading and writing is held in memory until it is closed, and this one "
           "would pass %llu bytes (at %llu); refused with EFBIG. Raise --random-access-limit, or have the "
           "program write the file sequentially (O_WRONLY)",
           path != NULL ? path : "a random-access file", (unsigned long long)shim_cfg.random_limit, (unsigned long long)size);
}

SHIM_HIDDEN int ra_open(const char *rel, int flags, mode_t mode) {
  int sock;
  int err = conn_open_file(rel, flags, mode, &sock);
  if (err != 0) {
    errno = err;
    return -1;
  }
  int fd = memfd_create("diskless", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0) {
    err = errno;
    real_close(sock); /* an empty file: the run's manifest will show it; the program sees the error */
    errno = err;
    return -1;
  }
  if (flags & O_APPEND) real_fcntl(fd, F_SETFL, O_APPEND);
  fdt_record_file(fd, FD_MEMORY, sock, rel);
  SHIM_LOG(SHIM_LOG_DEBUG, "open %s: random-access, held in memory (fd %d)", rel, fd);
  return fd;
}

static int send_memfd(int fd, int sock, uint64_t size) {
  off_t off = 0;
  while ((uint64_t)off < size) {
    ssize_t n = sendfile(sock, fd, &off, (size_t)(size - (uint64_t)off));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = sock, .events = POLLOUT, .revents = 0};
        poll(&p, 1, -1);
        continue;
      }
      return errno;
    }
    if (n == 0) return EIO;
  }
  return 0;
}

SHIM_HIDDEN int ra_finish(int fd, const struct fd_entry *e) {
  struct stat st;
  int err = real_fstat(fd, &st) == 0 ? 0 : errno;
  const char *path = e->path != NULL ? e->path : "?";
  if (err == 0 && (uint64_t)st.st_size > shim_cfg.random_limit) {
    say_limit(path, (uint64_t)st.st_size);
    conn_fail(path, "%s: %llu bytes, more than --random-access-limit (%llu) allows a file opened for reading and writing",
              path, (unsigned long long)st.st_size, (unsigned long long)shim_cfg.random_limit);
    real_close(e->aux);
    return EFBIG;
  }
  if (err == 0) err = send_memfd(fd, e->aux, (uint64_t)st.st_size);
  if (err != 0) {
    conn_fail(path, "%s: could not hand the file's bytes to the uploader (%s)", path, strerror(err));
    real_close(e->aux);
    return EIO;
  }
  char what[600];
  snprintf(what, sizeof what, "close of %s", path);
  err = conn_finish_file(e->aux, what);
  real_close(e->aux);
  return err;
}

SHIM_HIDDEN void ra_abandon(const struct fd_entry *e) {
  const char *path = e->path != NULL ? e->path : "?";
  conn_fail(path, "%s: a file opened for reading and writing was closed while another descriptor (dup, fork) may still "
            "hold it; diskless cannot tell which holds its last bytes, so it is not stored", path);
  real_close(e->aux);
}

SHIM_HIDDEN void ra_note_position(int fd, uint64_t pos) {
  struct stat st;
  if (fdt_peek(fd) != FD_MEMORY || real_fstat(fd, &st) != 0) return;
  if (pos < (uint64_t)st.st_size) fdt_mark_random(fd);
}

/* The memfd's bytes go to the upload socket, which then takes the memfd's place at fd; path is
 * the file's name (a copy: see fdt_get). */
static int promote(int fd, const struct fd_entry *e, const char *path, uint64_t size) {
  int err = send_memfd(fd, e->aux, size);
  if (err != 0) return err;
  int fdflags = real_fcntl(fd, F_GETFD);
  int flflags = real_fcntl(fd, F_GETFL);
  int aux = e->aux;
  if (real_dup3(aux, fd, (fdflags >= 0 && (fdflags & FD_CLOEXEC)) ? O_CLOEXEC : 0) < 0) return errno;
  if (flflags >= 0 && (flflags & O_NONBLOCK)) real_fcntl(fd, F_SETFL, O_NONBLOCK);
  real_close(aux);
  fdt_record_file(fd, FD_VIRTUAL, -1, path);
  SHIM_LOG(SHIM_LOG_INFO, "%s: written from start to end past %llu bytes: it streams from now on (fd %d)", path,
           (unsigned long long)shim_cfg.random_limit, fd);
  return 0;
}

SHIM_HIDDEN int ra_check_size(int fd, uint64_t pos, uint64_t end) {
  if (fdt_peek(fd) != FD_MEMORY || end <= shim_cfg.random_limit) return 0;
  struct fd_entry e;
  struct stat st;
  char path[PATH_MAX];
  if (fdt_get(fd, &e, path, sizeof path) != FD_MEMORY || real_fstat(fd, &st) != 0) return 0;
  int sequential = !e.random && !e.shared && e.owner == shim_pid && pos == (uint64_t)st.st_size;
  if (sequential && promote(fd, &e, path[0] != '\0' ? path : "?", (uint64_t)st.st_size) == 0) return 0;
  say_limit(path[0] != '\0' ? path : NULL, end);
  return EFBIG;
}

SHIM_HIDDEN void ra_finish_all(void) {
  for (int fd = 0; fd < FD_TABLE_SIZE; fd++) {
    if (fdt_peek(fd) != FD_MEMORY) continue;
    struct fd_entry e;
    /* Another process's (inherited through fork): not ours to send; it stays known as such, so
     * that its upload socket gets no END from this process either. */
    if (fdt_get(fd, &e, NULL, 0) != FD_MEMORY || e.owner != shim_pid) continue;
    if (fdt_take(fd, &e) != FD_MEMORY) continue;
    if (fdt_validate(fd, &e)) {
      int err = ra_finish(fd, &e);
      if (err != 0) SHIM_LOG(SHIM_LOG_ERROR, "at exit: %s was not stored (%s)", e.path ? e.path : "?", strerror(err));
    }
    fdt_release(&e);
  }
}
