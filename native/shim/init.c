/*
 * Configuration (read once from the environment), the process identity used by the fork logic,
 * logging, and the constructor. The constructor only reads the environment and registers the
 * fork handlers; real symbols are bound lazily by the first hook (real_symbols.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "conn.h"
#include "fd_table.h"
#include "random_access.h"
#include "reentry.h"
#include "vpath.h"
#include "wire.h"

SHIM_HIDDEN struct shim_config shim_cfg;
SHIM_HIDDEN pid_t shim_pid;

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static int config_done;

SHIM_HIDDEN pid_t shim_raw_getpid(void) { return (pid_t)syscall(SYS_getpid); }

SHIM_HIDDEN int shim_in_foreign_child(void) { return shim_raw_getpid() != shim_pid; }

SHIM_HIDDEN void shim_log(int level, const char *fmt, ...) {
  char line[1024];
  int saved = errno;
  int n = snprintf(line, sizeof line, "diskless-shim[%d]: %s", (int)shim_raw_getpid(),
                   level == SHIM_LOG_ERROR ? "error: " : "");
  if (n < 0) n = 0;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  const char *p = line;
  while (len > 0) {
    ssize_t w = syscall(SYS_write, 2, p, len); /* not the hooked write() */
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    len -= (size_t)w;
  }
  errno = saved;
}

static void atfork_child(void) {
  shim_pid = shim_raw_getpid();
  fdt_atfork_child();
  conn_atfork_child();
}

static void load_config(void) {
  struct shim_config *c = &shim_cfg;
  const char *level = getenv(WIRE_ENV_LOG);
  c->log_level = level != NULL ? atoi(level) : 0;
  shim_pid = shim_raw_getpid();
  pthread_atfork(fdt_atfork_prepare, fdt_atfork_parent, atfork_child);

  const char *sock = getenv(WIRE_ENV_SOCKET);
  const char *dir = getenv(WIRE_ENV_DIR);
  const char *token = getenv(WIRE_ENV_TOKEN);
  if (sock == NULL || sock[0] == '\0' || dir == NULL || dir[0] == '\0') return; /* pass-through */

  c->socket_path_len = strlen(sock);
  if (c->socket_path_len >= sizeof c->socket_path) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s is too long for a Unix socket path (%zu bytes); the shim is inactive", WIRE_ENV_SOCKET,
             c->socket_path_len);
    return;
  }
  memcpy(c->socket_path, sock, c->socket_path_len + 1);

  size_t dlen = strlen(dir);
  if (dir[0] != '/' || dlen >= sizeof c->vdir) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s must be an absolute path shorter than %zu bytes (got \"%s\"); the shim is inactive",
             WIRE_ENV_DIR, sizeof c->vdir, dir);
    return;
  }
  memcpy(c->vdir, dir, dlen + 1);
  c->vdir_len = vpath_normalize(c->vdir);
  if (c->vdir_len <= 1) {
    SHIM_LOG(SHIM_LOG_ERROR, "%s must not be \"/\"; the shim is inactive", WIRE_ENV_DIR);
    return;
  }
  /* The application may reach the directory through another spelling (a symlinked parent, or a
   * cwd inside it: getcwd() returns the resolved path). */
  char resolved[PATH_MAX];
  if (realpath(c->vdir, resolved) != NULL && strcmp(resolved, c->vdir) != 0 && strlen(resolved) < sizeof c->vdir_real) {
    c->vdir_real_len = strlen(resolved);
    memcpy(c->vdir_real, resolved, c->vdir_real_len + 1);
  }

  if (token == NULL) token = "";
  c->token_len = strlen(token);
  if (c->token_len >= sizeof c->token) c->token_len = sizeof c->token - 1;
  memcpy(c->token, token, c->token_len);
  c->token[c->token_len] = '\0';
  if (c->token_len != WIRE_TOKEN_SIZE)
    SHIM_LOG(SHIM_LOG_ERROR, "%s should be %d hex characters (has %zu); the uploader will likely refuse the shim", WIRE_ENV_TOKEN,
             WIRE_TOKEN_SIZE, c->token_len);

  const char *standin = getenv(WIRE_ENV_STANDIN);
  if (standin != NULL && standin[0] == '/' && strlen(standin) < sizeof c->standin) strcpy(c->standin, standin);
  const char *limit = getenv(WIRE_ENV_RANDOM_LIMIT);
  c->random_limit = limit != NULL && limit[0] != '\0' ? strtoull(limit, NULL, 10) : (uint64_t)64 << 20;
  const char *sndbuf = getenv(WIRE_ENV_SOCKET_BUFFER);
  const long long want = sndbuf != NULL ? atoll(sndbuf) : 0;
  c->socket_buffer = want > 0 && want <= INT_MAX / 2 ? (int)want : 0;

  const char *reading = getenv(WIRE_ENV_READ);
  c->read_mode = reading == NULL ? SHIM_READ_NONE : strcmp(reading, "1") == 0 ? SHIM_READ_ONLY
                 : strcmp(reading, "2") == 0 ? SHIM_READ_BESIDE : SHIM_READ_NONE;
  const char *rsock = getenv(WIRE_ENV_READ_SOCKET);
  if (rsock == NULL || rsock[0] == '\0') rsock = c->read_mode == SHIM_READ_ONLY ? sock : "";
  if (strlen(rsock) < sizeof c->read_socket_path) {
    c->read_socket_path_len = strlen(rsock);
    memcpy(c->read_socket_path, rsock, c->read_socket_path_len + 1);
  }

  c->active = 1;
  SHIM_LOG(SHIM_LOG_INFO, "active: virtual directory %s%s%s (%s), uploader %s", c->vdir, c->vdir_real_len ? " = " : "",
           c->vdir_real, c->read_mode ? "read from the backup" : "written to S3", c->socket_path);
}

static void ensure_config(void) {
  if (__atomic_load_n(&config_done, __ATOMIC_ACQUIRE)) return;
  pthread_once(&config_once, load_config);
  __atomic_store_n(&config_done, 1, __ATOMIC_RELEASE);
}

SHIM_HIDDEN void shim_ensure(void) {
  ensure_config();
  shim_real_bind();
}

__attribute__((constructor)) static void shim_constructor(void) { ensure_config(); }

/* exit(), _exit() or a return from main: random-access files still open are complete (send them),
 * and every file descriptor still open ends cleanly here (wire.def: END), unlike a killed process. */
static void at_exit_of_process(int flush_stdio) {
  if (!shim_cfg.active || shim_in_foreign_child() || !shim_enter()) return;
  /* exit() flushes stdio only after the destructors ran (_IO_cleanup comes last): flush now, or
   * the buffered tail would arrive after the END (pg_dump -Ft exits with its tar buffered). */
  if (flush_stdio) fflush(NULL);
  ra_finish_all();
  conn_end_all(WIRE_END_EXIT, 0);
  shim_leave();
}

__attribute__((destructor)) static void shim_destructor(void) { at_exit_of_process(1); }

SHIM_EXPORT void _exit(int status) {
  shim_ensure();
  at_exit_of_process(0);
  real__exit(status);
  for (;;) syscall(SYS_exit_group, status);
}

SHIM_EXPORT void _Exit(int status) {
  shim_ensure();
  at_exit_of_process(0);
  real__Exit(status);
  for (;;) syscall(SYS_exit_group, status);
}
