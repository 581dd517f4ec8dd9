/*
 * lseek/lseek64 on a virtual file's descriptor: the kernel already refuses it (a socket: ESPIPE) and
 * the shim does not pretend otherwise, since faking seekability would corrupt the object. The hook
 * only says why, once per process, so a tool's "Illegal seek" is not a mystery: a file under
 * DISKLESS_DIR streams to S3 and must be written from start to end (pg_dump -Fc copes; pg_basebackup's
 * pg_wal.tar in -X stream mode cannot: use -X fetch). Seeks inside libc (ftello, fopen "a") use an
 * internal symbol and are not seen here.
 */
#include <errno.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"

static int warned;

static int is_virtual(int fd) {
  struct fd_entry e;
  if (fdt_get(fd, &e) == FD_VIRTUAL && fdt_validate(fd, &e)) return 1;
  return conn_is_uploader_socket(fd);
}

static off64_t shim_lseek(int fd, off64_t offset, int whence) {
  shim_ensure(); /* binds real_lseek64, also for a call that comes before the constructor */
  off64_t r = real_lseek64(fd, offset, whence);
  if (r >= 0 || errno != ESPIPE || !shim_enter()) return r;
  int saved = errno;
  if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED) && is_virtual(fd)) {
    SHIM_LOG(SHIM_LOG_ERROR,
             "lseek on fd %d (offset %lld, whence %d) refused: files under %s stream to S3 and must be "
             "written from start to end, without seeking back",
             fd, (long long)offset, whence, shim_cfg.vdir);
  }
  shim_leave();
  errno = saved;
  return r;
}

SHIM_EXPORT off_t lseek(int fd, off_t offset, int whence) { return (off_t)shim_lseek(fd, offset, whence); }

SHIM_EXPORT off64_t lseek64(int fd, off64_t offset, int whence) { return shim_lseek(fd, offset, whence); }
