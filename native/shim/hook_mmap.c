/*
 * mmap, mmap64: run --from describes the descriptor of a file of the backup as a regular file
 * (hook_stat.c), so a program may try to map it; it is a socket, and the kernel refuses (ENODEV).
 * The hook keeps that answer and says why on stderr, once per process, so that a program that
 * gives up shows the cause (most fall back to read()). Costs nothing unless a map fails with ENODEV.
 *
 * No shim_ensure() here: allocators map memory through the public name, possibly before libc is
 * ready (jemalloc's first malloc), and binding the real symbols can itself allocate. Before the
 * first other hook has run, the call goes straight to the kernel; no read descriptor exists then.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"

static int warned;

static void explain(int fd) {
  if (__atomic_load_n(&warned, __ATOMIC_RELAXED) || !shim_cfg.read_mode || !shim_enter()) return;
  int saved = errno;
  struct fd_entry e;
  char rel[PATH_MAX] = "";
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ) rel[0] = '\0';
  if ((rel[0] != '\0' || conn_is_read_socket(fd)) && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
    SHIM_LOG(SHIM_LOG_ERROR, "mmap of fd %d (%s) refused (ENODEV): it reads a file of the backup under %s as a stream from "
             "S3, which cannot be mapped; read it instead", fd, rel[0] ? rel : "a file of the backup", shim_cfg.vdir);
  errno = saved;
  shim_leave();
}

static void *map(void *addr, size_t len, int prot, int flags, int fd, off64_t off, int large) {
  void *p;
  if (large && real_mmap64 != NULL) p = real_mmap64(addr, len, prot, flags, fd, off);
  else if (!large && real_mmap != NULL) p = real_mmap(addr, len, prot, flags, fd, (off_t)off);
  else p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
  if (p == MAP_FAILED && errno == ENODEV && fd >= 0 && !(flags & MAP_ANONYMOUS)) explain(fd);
  return p;
}

SHIM_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return map(addr, len, prot, flags, fd, off, 0);
}

SHIM_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  return map(addr, len, prot, flags, fd, off, 1);
}
