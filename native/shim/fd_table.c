/* See fd_table.h and docs/SHIM.md ("the last-reference rule"). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fd_table.h"

static struct fd_entry table[FD_TABLE_SIZE];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t generation = 1; /* bumped (under table_lock) at every fork and spawn */

static int in_range(int fd) { return fd >= 0 && fd < FD_TABLE_SIZE; }

/* Lock-free peek, so that close() of an untracked fd (the common case) takes no lock. */
static int maybe_tracked(int fd) { return in_range(fd) && __atomic_load_n(&table[fd].kind, __ATOMIC_RELAXED) != FD_NONE; }

static void set_kind(int fd, uint8_t kind) { __atomic_store_n(&table[fd].kind, kind, __ATOMIC_RELAXED); }

SHIM_HIDDEN void fdt_record(int fd, enum fd_kind kind) { fdt_record_file(fd, kind, -1, NULL); }

SHIM_HIDDEN enum fd_kind fdt_peek(int fd) {
  return in_range(fd) ? (enum fd_kind)__atomic_load_n(&table[fd].kind, __ATOMIC_RELAXED) : FD_NONE;
}

SHIM_HIDDEN void fdt_mark_random(int fd) {
  if (!maybe_tracked(fd) || shim_in_foreign_child()) return;
  pthread_mutex_lock(&table_lock);
  table[fd].random = 1;
  pthread_mutex_unlock(&table_lock);
}

SHIM_HIDDEN int fdt_is_aux(int fd) {
  if (fd < 0) return 0;
  for (int i = 0; i < FD_TABLE_SIZE; i++) {
    if (__atomic_load_n(&table[i].kind, __ATOMIC_RELAXED) == FD_MEMORY && table[i].aux == fd) return 1;
  }
  return 0;
}

SHIM_HIDDEN void fdt_add_pos(int fd, uint64_t n) {
  if (in_range(fd)) __atomic_add_fetch(&table[fd].pos, n, __ATOMIC_RELAXED);
}

SHIM_HIDDEN void fdt_set_pos(int fd, uint64_t pos) {
  if (in_range(fd)) __atomic_store_n(&table[fd].pos, pos, __ATOMIC_RELAXED);
}

SHIM_HIDDEN void fdt_release(struct fd_entry *e) {
  free(e->path);
  e->path = NULL;
}

SHIM_HIDDEN void fdt_record_file(int fd, enum fd_kind kind, int aux, const char *path) {
  struct stat st;
  if (!in_range(fd) || shim_in_foreign_child()) return;
  char *copy = path != NULL ? strdup(path) : NULL;
  int saved = errno;
  int ok = real_fstat(fd, &st) == 0;
  errno = saved;
  pthread_mutex_lock(&table_lock);
  table[fd].shared = 0;
  table[fd].gen = generation;
  table[fd].owner = shim_pid;
  table[fd].ino = ok ? (uint64_t)st.st_ino : 0;
  table[fd].dev = ok ? (uint64_t)st.st_dev : 0;
  table[fd].aux = aux;
  table[fd].random = 0;
  table[fd].pos = 0;
  char *old = table[fd].path;
  table[fd].path = copy; /* an old path of a stale entry is dropped here (fds reused without our close) */
  set_kind(fd, ok ? (uint8_t)kind : FD_NONE);
  pthread_mutex_unlock(&table_lock);
  free(old);
}

SHIM_HIDDEN void fdt_forget(int fd) {
  if (!maybe_tracked(fd) || shim_in_foreign_child()) return;
  pthread_mutex_lock(&table_lock);
  set_kind(fd, FD_NONE);
  pthread_mutex_unlock(&table_lock);
}

SHIM_HIDDEN void fdt_mark_shared(int fd) {
  if (!maybe_tracked(fd) || shim_in_foreign_child()) return;
  pthread_mutex_lock(&table_lock);
  table[fd].shared = 1;
  pthread_mutex_unlock(&table_lock);
}

SHIM_HIDDEN void fdt_move(int from, int to) {
  if (!in_range(from) || shim_in_foreign_child()) return;
  char *old = NULL;
  pthread_mutex_lock(&table_lock);
  if (in_range(to) && to != from) {
    old = table[to].path; /* a stale entry's name (the fd was reused without our close) */
    table[to] = table[from];
    table[from].path = NULL;
    set_kind(from, FD_NONE);
  } else if (to != from) {
    set_kind(from, FD_NONE);
  }
  pthread_mutex_unlock(&table_lock);
  free(old);
}

SHIM_HIDDEN enum fd_kind fdt_get(int fd, struct fd_entry *out, char *path, size_t n) {
  if (n > 0) path[0] = '\0';
  if (!maybe_tracked(fd)) return FD_NONE;
  pthread_mutex_lock(&table_lock);
  *out = table[fd];
  if (out->path != NULL && n > 0) snprintf(path, n, "%s", out->path);
  out->path = NULL; /* the table's copy: another thread's close may free it once the lock is released */
  pthread_mutex_unlock(&table_lock);
  return (enum fd_kind)out->kind;
}

SHIM_HIDDEN enum fd_kind fdt_path(int fd, char *buf, size_t n) {
  struct fd_entry e;
  return fdt_get(fd, &e, buf, n);
}

SHIM_HIDDEN enum fd_kind fdt_take(int fd, struct fd_entry *out) {
  if (!maybe_tracked(fd)) return FD_NONE;
  if (shim_in_foreign_child()) {
    return fdt_get(fd, out, NULL, 0); /* read only (no path); certainly_last() says no */
  }
  pthread_mutex_lock(&table_lock);
  *out = table[fd];
  table[fd].path = NULL; /* ownership moves to the caller (fdt_release) */
  set_kind(fd, FD_NONE);
  pthread_mutex_unlock(&table_lock);
  return (enum fd_kind)out->kind;
}

SHIM_HIDDEN int fdt_validate(int fd, const struct fd_entry *e) {
  struct stat st;
  int saved = errno;
  int ok = real_fstat(fd, &st) == 0;
  errno = saved;
  if (!ok || (uint64_t)st.st_ino != e->ino || (uint64_t)st.st_dev != e->dev) return 0;
  if (e->kind == FD_VIRTUAL || e->kind == FD_READ) return S_ISSOCK(st.st_mode);
  if (e->kind == FD_REOPEN) return S_ISDIR(st.st_mode);
  if (e->kind == FD_MEMORY) return S_ISREG(st.st_mode);
  return 0;
}

SHIM_HIDDEN int fdt_certainly_last(const struct fd_entry *e) {
  if ((e->kind != FD_VIRTUAL && e->kind != FD_MEMORY && e->kind != FD_READ) || e->shared || e->owner != shim_pid || shim_in_foreign_child()) return 0;
  return e->gen == __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

SHIM_HIDDEN void fdt_bump_generation(void) {
  if (shim_in_foreign_child()) return;
  pthread_mutex_lock(&table_lock);
  __atomic_store_n(&generation, generation + 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&table_lock);
}

/* fork(): the table is locked across it so the child never inherits a half-updated entry. The
 * generation moves in `prepare`, so both parent and child see every descriptor open before the
 * fork as possibly shared with the other. */
SHIM_HIDDEN void fdt_atfork_prepare(void) {
  pthread_mutex_lock(&table_lock);
  __atomic_store_n(&generation, generation + 1, __ATOMIC_RELEASE);
}

SHIM_HIDDEN void fdt_atfork_parent(void) { pthread_mutex_unlock(&table_lock); }

SHIM_HIDDEN void fdt_atfork_child(void) {
  /* Only this thread exists in the child; a fresh mutex is simplest and always valid. */
  pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
  memcpy(&table_lock, &fresh, sizeof fresh);
}
