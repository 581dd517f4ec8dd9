/* See conn.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "conn.h"
#include "fd_table.h"
#include "wire.h"

static void end_mark(int fd, uint32_t how);

/* Largest frame the shim sends: RENAME with two maximal paths. */
#define FRAME_OUT_MAX (WIRE_HEADER_SIZE + 3 * 4 + 128 + 2 * WIRE_MAX_PATH)
/* Largest reply the shim accepts: STAT_REPLY with a maximal message. */
#define FRAME_IN_MAX (4 + 8 + 8 + 4 + WIRE_MAX_MESSAGE)

static int wait_fd(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events, .revents = 0};
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

/* reads: the read socket (READ_OPEN), else the uploader's socket. */
static int connect_uploader(int reads, int *fd_out) {
  const char *path = reads ? shim_cfg.read_socket_path : shim_cfg.socket_path;
  size_t len = reads ? shim_cfg.read_socket_path_len : shim_cfg.socket_path_len;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path, len);
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  if (connect(fd, (struct sockaddr *)&addr, alen) != 0) {
    int err = errno;
    if (err == EINTR || err == EINPROGRESS) {
      /* The connection proceeds asynchronously: wait for it and read its outcome. */
      socklen_t elen = sizeof err;
      err = wait_fd(fd, POLLOUT);
      if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
    }
    if (err != 0) {
      SHIM_LOG(SHIM_LOG_ERROR, "cannot reach the uploader at %s: %s", path, strerror(err));
      real_close(fd);
      /* Another user's process cannot enter the uploader's 0700 socket directory: that is a refusal. */
      return err == EACCES ? EACCES : EIO;
    }
  }
  /* A larger send buffer lets the program write further ahead of the uploader's reads, which then come in fewer,
   * larger pieces (docs/BENCHMARKS.md, "A larger send buffer for each written file"). The kernel caps it at
   * net.core.wmem_max; a refusal only leaves the default. */
  if (!reads && shim_cfg.socket_buffer > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &shim_cfg.socket_buffer, sizeof shim_cfg.socket_buffer) != 0)
    SHIM_LOG(SHIM_LOG_DEBUG, "SO_SNDBUF %d: %s", shim_cfg.socket_buffer, strerror(errno));
  *fd_out = fd;
  return 0;
}

static int send_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int err = wait_fd(fd, POLLOUT);
        if (err != 0) return err;
        continue;
      }
      return errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes; EOF before that is EPIPE. Tolerates an O_NONBLOCK socket (the application
 * may have set it on a file's descriptor). */
static int recv_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        int err = wait_fd(fd, POLLIN);
        if (err != 0) return err;
        continue;
      }
      return errno;
    }
    if (r == 0) return EPIPE;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Reads one frame of the expected type into payload[FRAME_IN_MAX]. 0, or EIO (logged). */
static int recv_frame(int fd, uint16_t want, uint8_t *payload, uint32_t *len, const char *what) {
  uint8_t header[WIRE_HEADER_SIZE];
  uint16_t type = 0;
  *len = 0;
  int err = recv_all(fd, header, sizeof header);
  if (err != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: the uploader closed the connection without an answer (%s)", what,
             err == EPIPE ? "end of file" : strerror(err));
    return EIO;
  }
  if (wire_parse_header(header, &type, len) == 0 && type == WIRE_MSG_HANDLE && want != WIRE_MSG_HANDLE && *len <= FRAME_IN_MAX) {
    /* The file's id (wire.def: HANDLE), left unread until now: skip it. */
    err = recv_all(fd, payload, *len);
    if (err != 0) return EIO;
    return recv_frame(fd, want, payload, len, what);
  }
  if (wire_parse_header(header, &type, len) != 0 || type != want || *len > FRAME_IN_MAX) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: malformed answer from the uploader (type %u, %u bytes)", what, (unsigned)type,
             (unsigned)*len);
    return EIO;
  }
  err = recv_all(fd, payload, *len);
  if (err != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: truncated answer from the uploader", what);
    return EIO;
  }
  return 0;
}

/* Decodes err + message of a REPLY/RESULT/STAT_REPLY; logs a refusal. Returns the errno to report. */
static int answer_err(struct wire_reader *r, int32_t err, const char *what) {
  char message[WIRE_MAX_MESSAGE + 1];
  wire_get_str(r, message, sizeof message);
  if (r->error || r->left != 0 || err < 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: malformed answer from the uploader", what);
    return EIO;
  }
  if (err != 0) {
    /* ENOENT answers are routine (stat of an unknown name); the others are worth an error line. */
    if (err == ENOENT)
      SHIM_LOG(SHIM_LOG_DEBUG, "%s: not a virtual file the uploader knows", what);
    else
      SHIM_LOG(SHIM_LOG_ERROR, "%s: %s (%s)", what, message[0] ? message : "refused", strerror(err));
  }
  return err;
}

static void begin(struct wire_writer *w, uint8_t *buf, uint16_t type) {
  wire_begin(w, buf, FRAME_OUT_MAX, type);
  wire_put_str(w, shim_cfg.token, shim_cfg.token_len);
}

/* Connects (to the read socket if reads), sends the frame in w, reads a frame of type `want`. On
 * success *fd_out is open. */
static int exchange(struct wire_writer *w, int reads, uint16_t want, uint8_t *payload, uint32_t *len, int *fd_out, const char *what) {
  long n = wire_finish(w);
  if (n < 0) return ENAMETOOLONG;
  int fd = -1;
  int err = connect_uploader(reads, &fd);
  if (err != 0) return err;
  err = send_all(fd, w->buf, (size_t)n);
  if (err != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: cannot send to the uploader: %s", what, strerror(err));
    err = EIO;
  }
  if (err == 0) err = recv_frame(fd, want, payload, len, what);
  if (err != 0) {
    real_close(fd);
    return err;
  }
  *fd_out = fd;
  return 0;
}

/* OPEN or READ_OPEN: sends the frame, reads the REPLY; on 0 the connection (*fd) carries the file's
 * bytes, otherwise it is closed and the reply's errno returned. */
static int open_stream(struct wire_writer *w, int reads, int *fd, const char *what) {
  uint8_t in[FRAME_IN_MAX];
  uint32_t len;
  int err = exchange(w, reads, WIRE_MSG_REPLY, in, &len, fd, what);
  if (err != 0) return err;
  struct wire_reader r = {in, len, 0};
  int32_t e = wire_get_i32(&r);
  err = answer_err(&r, e, what);
  if (err != 0) real_close(*fd);
  return err;
}

SHIM_HIDDEN int conn_open_file(const char *rel, int flags, mode_t mode, int *fd_out) {
  uint8_t out[FRAME_OUT_MAX];
  struct wire_writer w;
  int fd;
  char what[512];
  snprintf(what, sizeof what, "open %s", rel);
  begin(&w, out, WIRE_MSG_OPEN);
  wire_put_str(&w, rel, strlen(rel));
  wire_put_u32(&w, (uint32_t)flags);
  wire_put_u32(&w, (uint32_t)mode);
  wire_put_u32(&w, (uint32_t)shim_raw_getpid());
  int err = open_stream(&w, 0, &fd, what);
  if (err != 0) return err;
  SHIM_LOG(SHIM_LOG_DEBUG, "%s: fd %d, flags 0%o", what, fd, (unsigned)flags);
  *fd_out = fd;
  return 0;
}

SHIM_HIDDEN int conn_read_open(const char *rel, uint64_t offset, int *fd_out) {
  uint8_t out[FRAME_OUT_MAX];
  struct wire_writer w;
  int fd;
  char what[512];
  snprintf(what, sizeof what, "read of %s", rel);
  begin(&w, out, WIRE_MSG_READ_OPEN);
  wire_put_str(&w, rel, strlen(rel));
  wire_put_u64(&w, offset);
  wire_put_u32(&w, (uint32_t)shim_raw_getpid());
  int err = open_stream(&w, 1, &fd, what);
  if (err != 0) return err;
  /* The canary (wire.def: READ_OPEN): left unread by the uploader while it streams, so a close of
   * its end after a failed check reaches our reads as ECONNRESET instead of a clean EOF. */
  static const uint8_t canary = 0;
  if (send_all(fd, &canary, 1) != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: the uploader closed the connection", what);
    real_close(fd);
    return EIO;
  }
  SHIM_LOG(SHIM_LOG_DEBUG, "%s: fd %d from byte %llu", what, fd, (unsigned long long)offset);
  *fd_out = fd;
  return 0;
}

SHIM_HIDDEN int conn_finish_file(int fd, const char *what) {
  uint8_t in[FRAME_IN_MAX];
  uint32_t len;
  /* The clean end of a file this process certainly holds the last reference to (wire.def): its write side shut down
   * while the connection is held until the RESULT. No END, so no wait for the uploader to read the last bytes first. */
  if (shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s: shutdown: %s", what, strerror(errno));
    return EIO;
  }
  int err = recv_frame(fd, WIRE_MSG_RESULT, in, &len, what);
  if (err != 0) return err;
  struct wire_reader r = {in, len, 0};
  int32_t e = wire_get_i32(&r);
  uint64_t size = wire_get_u64(&r);
  err = answer_err(&r, e, what);
  if (err == 0) SHIM_LOG(SHIM_LOG_DEBUG, "%s: stored, %llu bytes", what, (unsigned long long)size);
  return err;
}

/* The process's request connection (wire.def: a connection carries requests in turn): END, STAT and
 * the other requests of this process go over it, one at a time, instead of a connection each. Used
 * only by the process that made it (a fork child's copy is closed by conn_atfork_child; a vfork
 * child, sharing this memory, makes one-off connections) and only by the thread that gets the lock
 * at once: another thread meanwhile, or a signal handler that interrupted a request, makes a
 * one-off connection as well, so nothing ever waits for the lock. The program may close the
 * descriptor or reuse its number (closefrom, dup2): the device and inode it had tell. */
static struct {
  pthread_mutex_t lock;
  int fd;
  dev_t dev;
  ino_t ino;
} ctl = {PTHREAD_MUTEX_INITIALIZER, -1, 0, 0};

static int ctl_is_ours(void) {
  struct stat st;
  return real_fstat(ctl.fd, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino;
}

SHIM_HIDDEN void conn_atfork_child(void) {
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  ctl.lock = fresh; /* another thread of the parent may have held it */
  if (ctl.fd >= 0 && ctl_is_ours()) real_close(ctl.fd);
  ctl.fd = -1;
}

/* One exchange on the request connection, made or made again as needed; the lock is held. */
static int ctl_exchange(const uint8_t *frame, size_t n, uint16_t want, uint8_t *payload, uint32_t *len, const char *what) {
  if (ctl.fd >= 0 && !ctl_is_ours()) ctl.fd = -1; /* no longer ours: forget the number, do not close it */
  for (int attempt = 0;; attempt++) {
    int kept = ctl.fd >= 0;
    if (!kept) {
      int fd = -1;
      int err = connect_uploader(0, &fd);
      if (err != 0) return err;
      struct stat st;
      if (real_fstat(fd, &st) != 0) {
        real_close(fd);
        return EIO;
      }
      ctl.fd = fd;
      ctl.dev = st.st_dev;
      ctl.ino = st.st_ino;
    }
    int err = send_all(ctl.fd, frame, n);
    if (err != 0) {
      real_close(ctl.fd);
      ctl.fd = -1;
      /* A kept connection the uploader closed since: the request never reached it; once more on a new one. */
      if (kept && attempt == 0) continue;
      SHIM_LOG(SHIM_LOG_ERROR, "%s: cannot send to the uploader: %s", what, strerror(err));
      return EIO;
    }
    err = recv_frame(ctl.fd, want, payload, len, what);
    if (err != 0) {
      real_close(ctl.fd);
      ctl.fd = -1;
    }
    return err;
  }
}

/* A request answered by one frame of type `want`: over the process's request connection when it is
 * free, else over a connection of its own. */
static int request(struct wire_writer *w, uint16_t want, uint8_t *payload, uint32_t *len, const char *what) {
  if (!shim_in_foreign_child() && pthread_mutex_trylock(&ctl.lock) == 0) {
    long n = wire_finish(w);
    int err = n < 0 ? ENAMETOOLONG : ctl_exchange(w->buf, (size_t)n, want, payload, len, what);
    pthread_mutex_unlock(&ctl.lock);
    return err;
  }
  int fd;
  int err = exchange(w, 0, want, payload, len, &fd, what);
  if (err == 0) real_close(fd);
  return err;
}

static int simple_request(struct wire_writer *w, const char *what) {
  uint8_t in[FRAME_IN_MAX];
  uint32_t len;
  int err = request(w, WIRE_MSG_REPLY, in, &len, what);
  if (err != 0) return err;
  struct wire_reader r = {in, len, 0};
  int32_t e = wire_get_i32(&r);
  return answer_err(&r, e, what);
}

/* A request naming one path (and a second for renames), answered by REPLY: its errno. */
static int path_request(uint16_t type, const char *verb, const char *a, const char *b) {
  uint8_t out[FRAME_OUT_MAX];
  struct wire_writer w;
  char what[1024];
  if (b) snprintf(what, sizeof what, "%s %s -> %s", verb, a, b);
  else snprintf(what, sizeof what, "%s %s", verb, a);
  begin(&w, out, type);
  wire_put_str(&w, a, strlen(a));
  if (b) wire_put_str(&w, b, strlen(b));
  return simple_request(&w, what);
}

SHIM_HIDDEN int conn_rename(const char *from, const char *to) { return path_request(WIRE_MSG_RENAME, "rename", from, to); }

SHIM_HIDDEN int conn_unlink(const char *rel) { return path_request(WIRE_MSG_UNLINK, "unlink", rel, NULL); }

SHIM_HIDDEN int conn_sync(const char *rel) { return path_request(WIRE_MSG_SYNC, "fsync of", rel, NULL); }

SHIM_HIDDEN int conn_stat(const char *rel, uint64_t *size, int64_t *mtime_ns) {
  uint8_t out[FRAME_OUT_MAX], in[FRAME_IN_MAX];
  struct wire_writer w;
  uint32_t len;
  char what[512];
  snprintf(what, sizeof what, "stat %s", rel);
  begin(&w, out, WIRE_MSG_STAT);
  wire_put_str(&w, rel, strlen(rel));
  int err = request(&w, WIRE_MSG_STAT_REPLY, in, &len, what);
  if (err != 0) return err;
  struct wire_reader r = {in, len, 0};
  int32_t e = wire_get_i32(&r);
  *size = wire_get_u64(&r);
  *mtime_ns = wire_get_i64(&r);
  return answer_err(&r, e, what);
}

/* Every byte written so far to fd must have been read by the uploader (its count is then exact):
 * waits until the socket's send queue is empty, polling, for at most about a minute. The first
 * polls come after 20, 40, 80… µs, up to 1 ms apart: the uploader usually reads the last bytes
 * within microseconds, and a fixed 1 ms sleep would cost every END (and position query) 1 ms. The
 * close of a certain last holder does not wait here at all (conn_finish_file). */
static int wait_drained(int fd) {
  long step_us = 20;
  for (long waited_us = 0;; waited_us += step_us) {
    int queued = 0;
    if (ioctl(fd, SIOCOUTQ, &queued) != 0) return errno;
    if (queued == 0) return 0;
    if (waited_us > 60L * 1000 * 1000) return ETIMEDOUT;
    if (waited_us > 0 && step_us < 1000) step_us = step_us * 2 > 1000 ? 1000 : step_us * 2;
    struct timespec t = {0, step_us * 1000};
    nanosleep(&t, NULL);
  }
}

/* The file id the uploader left in fd's receive queue (HANDLE), without consuming it. */
static int peek_handle(int fd, uint64_t *id) {
  uint8_t buf[WIRE_HEADER_SIZE + 8];
  ssize_t n;
  do n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  uint16_t type = 0;
  uint32_t len = 0;
  if (n != (ssize_t)sizeof buf || wire_parse_header(buf, &type, &len) != 0 || type != WIRE_MSG_HANDLE || len != 8) return 0;
  struct wire_reader r = {buf + WIRE_HEADER_SIZE, 8, 0};
  *id = wire_get_u64(&r);
  return !r.error;
}

SHIM_HIDDEN void conn_end_mark(int fd, uint32_t how) {
  /* The upload socket of a random-access file carries its bytes only at its close: only
   * ra_finish may mark it (an END now would make an empty file look complete). */
  if (fdt_is_aux(fd)) return;
  end_mark(fd, how);
}

static void end_mark(int fd, uint32_t how) {
  uint64_t id;
  int saved = errno;
  /* Only for a write socket (the callers check: conn_is_write_socket, or a file this process
   * writes): a read socket's receive queue holds file bytes, not a HANDLE, and its send queue keeps
   * the unread canary (SIOCOUTQ never drains), so it has no end to mark. */
  if (!peek_handle(fd, &id)) {
    errno = saved;
    return; /* not a file socket, or an uploader without HANDLE */
  }
  if (wait_drained(fd) != 0) {
    SHIM_LOG(SHIM_LOG_ERROR, "end of fd %d: the uploader did not read the file's last bytes in time; its end is not marked", fd);
    errno = saved;
    return;
  }
  uint8_t out[FRAME_OUT_MAX];
  struct wire_writer w;
  char what[64];
  snprintf(what, sizeof what, "end of fd %d", fd);
  begin(&w, out, WIRE_MSG_END);
  wire_put_u64(&w, id);
  wire_put_u32(&w, how);
  (void)simple_request(&w, what);
  errno = saved;
}

SHIM_HIDDEN void conn_end_all(uint32_t how, int only_cloexec) {
  if (shim_cfg.read_mode == SHIM_READ_ONLY) return; /* a --from run writes no file: no END to send (end_mark) */
  int saved = errno;
  int dir = real_open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) {
    errno = saved;
    return;
  }
  char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 {
        uint64_t d_ino;
        int64_t d_off;
        unsigned short d_reclen;
        unsigned char d_type;
        char d_name[];
      } *d = (void *)(buf + off);
      off += d->d_reclen;
      if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
      int fd = atoi(d->d_name);
      if (fd == dir) continue;
      if (only_cloexec) {
        int fl = real_fcntl(fd, F_GETFD);
        if (fl < 0 || !(fl & FD_CLOEXEC)) continue;
      }
      if (conn_is_write_socket(fd)) conn_end_mark(fd, how);
    }
  }
  real_close(dir);
  errno = saved;
}

SHIM_HIDDEN int conn_stream_size(int fd, const char *rel, uint64_t *size) {
  int err = wait_drained(fd);
  if (err != 0) return err;
  int64_t mtime;
  return conn_stat(rel, size, &mtime);
}

/* getpeername alone tells: it fails (ENOTSOCK) on anything that is not a socket, so no fstat first. */
SHIM_HIDDEN enum conn_peer conn_peer_of(int fd) {
  struct sockaddr_un peer;
  socklen_t plen = sizeof peer;
  int saved = errno;
  int yes = getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 && peer.sun_family == AF_UNIX &&
            plen > offsetof(struct sockaddr_un, sun_path);
  enum conn_peer which = CONN_PEER_NONE;
  if (yes && shim_cfg.read_socket_path_len > 0 && strncmp(peer.sun_path, shim_cfg.read_socket_path, sizeof peer.sun_path) == 0)
    which = CONN_PEER_READ;
  else if (yes && strncmp(peer.sun_path, shim_cfg.socket_path, sizeof peer.sun_path) == 0)
    which = CONN_PEER_WRITE;
  errno = saved;
  return which;
}

SHIM_HIDDEN int conn_rename_dir(const char *from, const char *to) {
  return path_request(WIRE_MSG_RENAME_DIR, "rename of directory", from, to);
}

SHIM_HIDDEN void conn_fail(const char *path, const char *fmt, ...) {
  uint8_t out[FRAME_OUT_MAX];
  struct wire_writer w;
  char message[WIRE_MAX_MESSAGE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  /* Always printed: the run fails because of it, and the program may hide its own error. */
  shim_log(SHIM_LOG_ERROR, "%s", message);
  size_t plen = strnlen(path, WIRE_MAX_PATH - 1);
  begin(&w, out, WIRE_MSG_FAIL);
  wire_put_str(&w, path, plen);
  wire_put_str(&w, message, strlen(message));
  (void)simple_request(&w, "report of a refusal");
}
