/*
 * The stat family (stat, stat64, lstat, lstat64, fstatat, fstatat64, statx and the pre-2.33 ABI
 * __xstat, __xstat64, __lxstat, __lxstat64, __fxstatat, __fxstatat64) and access, faccessat,
 * euidaccess, eaccess.
 *
 * The real call always runs first (directories under the virtual directory are real). Only when it
 * fails with ENOENT for a file name under the virtual directory is the uploader asked (STAT); a file
 * it knows is described as a regular file: S_IFREG|0644, the process's euid/egid, one link, the
 * size and mtime the uploader gave (atime = ctime = mtime), st_blksize 4096, st_blocks from the
 * size, st_dev of the virtual directory and a stable st_ino derived from the name. access() of such
 * a file succeeds for F_OK, R_OK and W_OK, and fails with EACCES for X_OK.
 *
 * run --from: each file of the backup is a placeholder under the directory, a symlink to a path that
 * never exists (docs/SHIM.md, "Reads"), so stat/access fail with ENOENT and ask as above; lstat and
 * friends (which do not follow it) treat a symlink under the directory the same way.
 *
 * fstat/fstat64/__fxstat (and fstatat/statx with AT_EMPTY_PATH) of a descriptor: a virtual file's
 * descriptor being written is a socket and says so (S_IFSOCK); tar, split and stdio rely on that
 * (no seeking, no truncation). In a --from run, a descriptor of a file of the backup that this
 * process opened (or inherited by fork) is described as the file (S_IFREG, its size, as stat of its
 * name): the program may seek it (lseek, stdio: emulated) and mmap fails (ENODEV, hook_mmap.c).
 * One inherited across exec (a shell's redirection) is unknown to the fd table: still a socket.
 */
#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "conn.h"
#include "fd_table.h"
#include "reentry.h"
#include "vpath.h"

/* Pre-2.33 names: still exported by glibc 2.36 (make, node use them) but no longer declared. */
int __xstat(int ver, const char *path, struct stat *buf);
int __xstat64(int ver, const char *path, struct stat64 *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __lxstat64(int ver, const char *path, struct stat64 *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags);
int __fxstat(int ver, int fd, struct stat *buf);
int __fxstat64(int ver, int fd, struct stat64 *buf);

struct vfile {
  uint64_t size;
  int64_t mtime_ns;
  uint64_t ino;
  dev_t dev;
};

/* FNV-1a of the relative name, never 0: stable across calls and processes. */
static uint64_t name_ino(const char *rel) {
  uint64_t h = 1469598103934665603ULL;
  for (const unsigned char *p = (const unsigned char *)rel; *p; p++) h = (h ^ *p) * 1099511628211ULL;
  return h == 0 ? 1 : h;
}

static struct timespec ns_to_timespec(int64_t ns) {
  struct timespec t;
  int64_t rem = ns % 1000000000;
  t.tv_sec = (time_t)(ns / 1000000000);
  if (rem < 0) {
    rem += 1000000000;
    t.tv_sec -= 1;
  }
  t.tv_nsec = (long)rem;
  return t;
}

/* The virtual file rel as the uploader describes it (STAT). Keeps errno. */
static int describe(const char *rel, struct vfile *vf) {
  int saved = errno;
  int err = conn_stat(rel, &vf->size, &vf->mtime_ns);
  struct stat dir;
  vf->ino = name_ino(rel);
  vf->dev = err == 0 && real_stat(shim_cfg.vdir, &dir) == 0 ? dir.st_dev : 0;
  errno = saved;
  return err == 0;
}

/* After a real call failed: is dirfd+path a virtual file the uploader knows? Keeps errno. */
static int lookup_virtual(int dirfd, const char *path, struct vfile *vf) {
  char rel[PATH_MAX];
  if (errno != ENOENT || vpath_classify(dirfd, path, rel) != VPATH_FILE) return 0;
  return describe(rel, vf);
}

/* run --from: is fd (the real fstat said: a socket) this process's descriptor of a file of the
 * backup? Then vf describes the file, as stat of its name does. */
static int read_fd_file(int fd, struct vfile *vf) {
  struct fd_entry e;
  if (fd < 0 || !shim_cfg.read_mode || fdt_peek(fd) != FD_READ) return 0;
  char rel[PATH_MAX];
  if (fdt_get(fd, &e, rel, sizeof rel) != FD_READ || rel[0] == '\0' || !fdt_validate(fd, &e)) return 0;
  return describe(rel, vf);
}

#define FILL_STAT(st, vf)                                                                          \
  do {                                                                                             \
    memset((st), 0, sizeof *(st));                                                                 \
    (st)->st_dev = (vf)->dev;                                                                      \
    (st)->st_ino = (vf)->ino;                                                                      \
    (st)->st_mode = S_IFREG | 0644;                                                                \
    (st)->st_nlink = 1;                                                                            \
    (st)->st_uid = geteuid();                                                                      \
    (st)->st_gid = getegid();                                                                      \
    (st)->st_size = (off_t)(vf)->size;                                                             \
    (st)->st_blksize = 4096;                                                                       \
    (st)->st_blocks = (blkcnt_t)(((vf)->size + 511) / 512);                                        \
    (st)->st_mtim = ns_to_timespec((vf)->mtime_ns);                                                \
    (st)->st_atim = (st)->st_mtim;                                                                 \
    (st)->st_ctim = (st)->st_mtim;                                                                 \
  } while (0)

static void fill_stat(struct stat *st, const struct vfile *vf) { FILL_STAT(st, vf); }

static void fill_stat64(struct stat64 *st, const struct vfile *vf) { FILL_STAT(st, vf); }

static void fill_statx(struct statx *stx, const struct vfile *vf) {
  struct timespec m = ns_to_timespec(vf->mtime_ns);
  struct statx_timestamp t;
  memset(&t, 0, sizeof t);
  t.tv_sec = m.tv_sec;
  t.tv_nsec = (uint32_t)m.tv_nsec;
  memset(stx, 0, sizeof *stx);
  stx->stx_mask = STATX_BASIC_STATS;
  stx->stx_blksize = 4096;
  stx->stx_nlink = 1;
  stx->stx_uid = geteuid();
  stx->stx_gid = getegid();
  stx->stx_mode = S_IFREG | 0644;
  stx->stx_ino = vf->ino;
  stx->stx_size = vf->size;
  stx->stx_blocks = (vf->size + 511) / 512;
  stx->stx_atime = t;
  stx->stx_mtime = t;
  stx->stx_ctime = t;
  stx->stx_dev_major = major(vf->dev);
  stx->stx_dev_minor = minor(vf->dev);
}

/* fstatat/statx(fd, "", AT_EMPTY_PATH) describe fd itself: fd, else -1. (glibc declares path
 * nonnull, but Linux 6.11 accepts NULL with AT_EMPTY_PATH: the volatile copy keeps the test.) */
static int empty_path_fd(int dirfd, const char *path, int flags) {
  const char *volatile p = path;
  return (flags & AT_EMPTY_PATH) && (p == NULL || p[0] == '\0') ? dirfd : -1;
}

/* r: the real call's result. Fills the buffer and returns 0 for a known virtual file. fd: the
 * descriptor an fstat-like call (AT_EMPTY_PATH) describes, else -1. */
#define AFTER_STAT(r, dirfd, path, fill, buf, saved, mode, fd)                                     \
  do {                                                                                             \
    struct vfile vf_;                                                                              \
    if ((r) == 0 && S_ISSOCK(mode) && read_fd_file((fd), &vf_)) {                                  \
      fill((buf), &vf_); /* a file of the backup being read (run --from) */                        \
    } else if ((r) == 0 && shim_cfg.read_mode && S_ISLNK(mode)) {                                  \
      errno = ENOENT; /* a placeholder of a --from run */                                          \
      (r) = -1;                                                                                    \
      if (!lookup_virtual((dirfd), (path), &vf_)) {                                                \
        errno = (saved);                                                                           \
        (r) = 0; /* a symlink that is not a file of the backup: as it is */                        \
        break;                                                                                     \
      }                                                                                            \
      fill((buf), &vf_);                                                                           \
      errno = (saved);                                                                             \
      (r) = 0;                                                                                     \
    } else if ((r) != 0 && lookup_virtual((dirfd), (path), &vf_)) {                                \
      fill((buf), &vf_);                                                                           \
      errno = (saved);                                                                             \
      (r) = 0;                                                                                     \
    }                                                                                              \
  } while (0)

/* The three layers collapse into one macro per signature: public name -> this logic -> real_*. */
#define STAT_HOOK(name, fill, dirfd_expr, params, args, mode, fd_expr)                             \
  SHIM_EXPORT int name params {                                                                    \
    if (!shim_enter()) return real_##name != NULL ? real_##name args : (errno = ENOSYS, -1);       \
    int saved = errno;                                                                             \
    int r = real_##name != NULL ? real_##name args : (errno = ENOSYS, -1);                         \
    AFTER_STAT(r, dirfd_expr, path, fill, buf, saved, mode, fd_expr);                              \
    shim_leave();                                                                                  \
    return r;                                                                                      \
  }

STAT_HOOK(stat, fill_stat, AT_FDCWD, (const char *path, struct stat *buf), (path, buf), buf->st_mode, -1)
STAT_HOOK(stat64, fill_stat64, AT_FDCWD, (const char *path, struct stat64 *buf), (path, buf), buf->st_mode, -1)
STAT_HOOK(lstat, fill_stat, AT_FDCWD, (const char *path, struct stat *buf), (path, buf), buf->st_mode, -1)
STAT_HOOK(lstat64, fill_stat64, AT_FDCWD, (const char *path, struct stat64 *buf), (path, buf), buf->st_mode, -1)
STAT_HOOK(fstatat, fill_stat, dirfd, (int dirfd, const char *path, struct stat *buf, int flags),
          (dirfd, path, buf, flags), buf->st_mode, empty_path_fd(dirfd, path, flags))
STAT_HOOK(fstatat64, fill_stat64, dirfd, (int dirfd, const char *path, struct stat64 *buf, int flags),
          (dirfd, path, buf, flags), buf->st_mode, empty_path_fd(dirfd, path, flags))
STAT_HOOK(statx, fill_statx, dirfd,
          (int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf), (dirfd, path, flags, mask, buf), buf->stx_mode, empty_path_fd(dirfd, path, flags))
STAT_HOOK(__xstat, fill_stat, AT_FDCWD, (int ver, const char *path, struct stat *buf), (ver, path, buf), buf->st_mode, -1)
STAT_HOOK(__xstat64, fill_stat64, AT_FDCWD, (int ver, const char *path, struct stat64 *buf),
          (ver, path, buf), buf->st_mode, -1)
STAT_HOOK(__lxstat, fill_stat, AT_FDCWD, (int ver, const char *path, struct stat *buf), (ver, path, buf), buf->st_mode, -1)
STAT_HOOK(__lxstat64, fill_stat64, AT_FDCWD, (int ver, const char *path, struct stat64 *buf),
          (ver, path, buf), buf->st_mode, -1)
STAT_HOOK(__fxstatat, fill_stat, dirfd, (int ver, int dirfd, const char *path, struct stat *buf, int flags),
          (ver, dirfd, path, buf, flags), buf->st_mode, empty_path_fd(dirfd, path, flags))
STAT_HOOK(__fxstatat64, fill_stat64, dirfd,
          (int ver, int dirfd, const char *path, struct stat64 *buf, int flags), (ver, dirfd, path, buf, flags), buf->st_mode, empty_path_fd(dirfd, path, flags))

/* fstat family: a descriptor of a file of the backup (run --from) is described as a regular file of
 * its size, as stat of its name is; any other descriptor as the kernel says (a virtual file being
 * written stays a socket: tar, split and stdio then neither seek nor truncate it). */
#define FSTAT_HOOK(name, fill, params, args)                                                       \
  SHIM_EXPORT int name params {                                                                    \
    shim_ensure();                                                                                 \
    int r = real_##name != NULL ? real_##name args : (errno = ENOSYS, -1);                         \
    if (r != 0 || !S_ISSOCK(buf->st_mode) || !shim_cfg.read_mode || fdt_peek(fd) != FD_READ || !shim_enter()) return r; \
    struct vfile vf;                                                                               \
    if (read_fd_file(fd, &vf)) fill(buf, &vf);                                                     \
    shim_leave();                                                                                  \
    return r;                                                                                      \
  }

FSTAT_HOOK(fstat, fill_stat, (int fd, struct stat *buf), (fd, buf))
FSTAT_HOOK(fstat64, fill_stat64, (int fd, struct stat64 *buf), (fd, buf))
FSTAT_HOOK(__fxstat, fill_stat, (int ver, int fd, struct stat *buf), (ver, fd, buf))
FSTAT_HOOK(__fxstat64, fill_stat64, (int ver, int fd, struct stat64 *buf), (ver, fd, buf))

/* access family: r is the real result. */
static int after_access(int r, int dirfd, const char *path, int mode, int saved) {
  struct vfile vf;
  if (r == 0 || !lookup_virtual(dirfd, path, &vf)) return r;
  if (mode & X_OK) {
    errno = EACCES;
    return -1;
  }
  errno = saved;
  return 0;
}

#define ACCESS_HOOK(name, dirfd_expr, params, args)                                                \
  SHIM_EXPORT int name params {                                                                    \
    if (!shim_enter()) return real_##name args;                                                    \
    int saved = errno;                                                                             \
    int r = after_access(real_##name args, dirfd_expr, path, mode, saved);                         \
    shim_leave();                                                                                  \
    return r;                                                                                      \
  }

ACCESS_HOOK(access, AT_FDCWD, (const char *path, int mode), (path, mode))
ACCESS_HOOK(faccessat, dirfd, (int dirfd, const char *path, int mode, int flags), (dirfd, path, mode, flags))
ACCESS_HOOK(euidaccess, AT_FDCWD, (const char *path, int mode), (path, mode))
ACCESS_HOOK(eaccess, AT_FDCWD, (const char *path, int mode), (path, mode))
