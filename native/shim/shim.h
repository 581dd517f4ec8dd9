/*
 * diskless LD_PRELOAD shim: declarations shared by every file of the shim.
 *
 * Layers (as in cwrap's socket_wrapper): the public symbol (`open`) is a one-line adapter in a
 * hook_*.c file; `shim_open...()` holds the logic; `real_open` is the typed pointer to the next
 * definition (libc), bound once by real_symbols.c. Internal code calls real_* only, never a hooked
 * public name. docs/SHIM.md describes the design.
 */
#ifndef DISKLESS_SHIM_H
#define DISKLESS_SHIM_H

/* The shim must see the plain (non-redirected) libc names: `open` must define `open`, not
 * `open64`, and fortify must not turn our definitions into `__open_alias` & co. node-gyp's
 * common.gypi defines _FILE_OFFSET_BITS=64 for every target; binding.gyp removes it, and so do we. */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__USE_FILE_OFFSET64) || defined(__USE_FORTIFY_LEVEL) && __USE_FORTIFY_LEVEL > 0
#error "the shim must be compiled without _FILE_OFFSET_BITS=64 and without _FORTIFY_SOURCE"
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_HIDDEN __attribute__((visibility("hidden")))
#define SHIM_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- real_symbols.c: the next definition of every hooked name --------------------------------
 * X(requirement, name, return type, parameter list). REQUIRED symbols abort the process with the
 * symbol's name if missing (glibc 2.36 has all of them); OPTIONAL ones may be NULL (the hook then
 * fails with ENOSYS, which cannot happen unless libc lacks the name the program linked against). */
struct statx;
struct utimbuf;
struct timeval;
#define SHIM_REAL_SYMBOLS(X)                                                                         \
  X(REQUIRED, open, int, (const char *, int, ...))                                                  \
  X(REQUIRED, open64, int, (const char *, int, ...))                                                \
  X(OPTIONAL, __open, int, (const char *, int, ...))                                                \
  X(OPTIONAL, __open64, int, (const char *, int, ...))                                              \
  X(REQUIRED, __open_2, int, (const char *, int))                                                   \
  X(REQUIRED, __open64_2, int, (const char *, int))                                                 \
  X(REQUIRED, openat, int, (int, const char *, int, ...))                                           \
  X(REQUIRED, openat64, int, (int, const char *, int, ...))                                         \
  X(REQUIRED, __openat_2, int, (int, const char *, int))                                            \
  X(REQUIRED, __openat64_2, int, (int, const char *, int))                                          \
  X(REQUIRED, creat, int, (const char *, mode_t))                                                   \
  X(REQUIRED, creat64, int, (const char *, mode_t))                                                 \
  X(REQUIRED, fopen, FILE *, (const char *, const char *))                                          \
  X(REQUIRED, fopen64, FILE *, (const char *, const char *))                                        \
  X(REQUIRED, freopen, FILE *, (const char *, const char *, FILE *))                                \
  X(REQUIRED, freopen64, FILE *, (const char *, const char *, FILE *))                              \
  X(REQUIRED, fclose, int, (FILE *))                                                                \
  X(REQUIRED, rename, int, (const char *, const char *))                                            \
  X(REQUIRED, renameat, int, (int, const char *, int, const char *))                                \
  X(OPTIONAL, renameat2, int, (int, const char *, int, const char *, unsigned int))                 \
  X(REQUIRED, unlink, int, (const char *))                                                          \
  X(REQUIRED, unlinkat, int, (int, const char *, int))                                              \
  X(REQUIRED, remove, int, (const char *))                                                          \
  X(REQUIRED, stat, int, (const char *, struct stat *))                                             \
  X(REQUIRED, stat64, int, (const char *, struct stat64 *))                                         \
  X(REQUIRED, lstat, int, (const char *, struct stat *))                                            \
  X(REQUIRED, lstat64, int, (const char *, struct stat64 *))                                        \
  X(REQUIRED, fstatat, int, (int, const char *, struct stat *, int))                                \
  X(REQUIRED, fstatat64, int, (int, const char *, struct stat64 *, int))                            \
  X(OPTIONAL, statx, int, (int, const char *, int, unsigned int, struct statx *))                   \
  X(OPTIONAL, __xstat, int, (int, const char *, struct stat *))                                     \
  X(OPTIONAL, __xstat64, int, (int, const char *, struct stat64 *))                                 \
  X(OPTIONAL, __lxstat, int, (int, const char *, struct stat *))                                    \
  X(OPTIONAL, __lxstat64, int, (int, const char *, struct stat64 *))                                \
  X(OPTIONAL, __fxstatat, int, (int, int, const char *, struct stat *, int))                        \
  X(OPTIONAL, __fxstatat64, int, (int, int, const char *, struct stat64 *, int))                    \
  X(REQUIRED, access, int, (const char *, int))                                                     \
  X(REQUIRED, faccessat, int, (int, const char *, int, int))                                        \
  X(REQUIRED, euidaccess, int, (const char *, int))                                                 \
  X(REQUIRED, eaccess, int, (const char *, int))                                                    \
  X(REQUIRED, fsync, int, (int))                                                                    \
  X(REQUIRED, fdatasync, int, (int))                                                                \
  X(REQUIRED, sync_file_range, int, (int, off64_t, off64_t, unsigned int))                          \
  X(REQUIRED, lseek64, off64_t, (int, off64_t, int))                                                \
  X(REQUIRED, chmod, int, (const char *, mode_t))                                                   \
  X(REQUIRED, fchmodat, int, (int, const char *, mode_t, int))                                      \
  X(REQUIRED, chown, int, (const char *, uid_t, gid_t))                                             \
  X(REQUIRED, lchown, int, (const char *, uid_t, gid_t))                                            \
  X(REQUIRED, fchownat, int, (int, const char *, uid_t, gid_t, int))                                \
  X(REQUIRED, utimensat, int, (int, const char *, const struct timespec[2], int))                  \
  X(REQUIRED, utimes, int, (const char *, const struct timeval[2]))                                 \
  X(REQUIRED, utime, int, (const char *, const struct utimbuf *))                                   \
  X(REQUIRED, close, int, (int))                                                                    \
  X(REQUIRED, dup, int, (int))                                                                      \
  X(REQUIRED, dup2, int, (int, int))                                                                \
  X(REQUIRED, dup3, int, (int, int, int))                                                           \
  X(REQUIRED, fcntl, int, (int, int, ...))                                                          \
  X(OPTIONAL, fcntl64, int, (int, int, ...))                                                        \
  X(REQUIRED, posix_spawn, int,                                                                     \
    (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,          \
     char *const[], char *const[]))                                                                 \
  X(REQUIRED, posix_spawnp, int,                                                                    \
    (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,          \
     char *const[], char *const[]))                                                                 \
  X(REQUIRED, system, int, (const char *))                                                          \
  X(REQUIRED, popen, FILE *, (const char *, const char *))                                         \
  X(REQUIRED, mkstemp, int, (char *))                                                               \
  X(REQUIRED, mkstemp64, int, (char *))                                                             \
  X(REQUIRED, mkostemp, int, (char *, int))                                                         \
  X(REQUIRED, mkostemp64, int, (char *, int))                                                       \
  X(REQUIRED, mkstemps, int, (char *, int))                                                         \
  X(REQUIRED, mkstemps64, int, (char *, int))                                                       \
  X(REQUIRED, mkostemps, int, (char *, int, int))                                                   \
  X(REQUIRED, mkostemps64, int, (char *, int, int))                                                 \
  X(REQUIRED, symlink, int, (const char *, const char *))                                           \
  X(REQUIRED, symlinkat, int, (const char *, int, const char *))                                    \
  X(REQUIRED, link, int, (const char *, const char *))                                              \
  X(REQUIRED, linkat, int, (int, const char *, int, const char *, int))                             \
  X(REQUIRED, execve, int, (const char *, char *const[], char *const[]))                            \
  X(REQUIRED, execv, int, (const char *, char *const[]))                                            \
  X(REQUIRED, execvp, int, (const char *, char *const[]))                                           \
  X(REQUIRED, execvpe, int, (const char *, char *const[], char *const[]))                           \
  X(REQUIRED, fexecve, int, (int, char *const[], char *const[]))                                    \
  X(REQUIRED, write, ssize_t, (int, const void *, size_t))                                          \
  X(REQUIRED, pwrite, ssize_t, (int, const void *, size_t, off_t))                                  \
  X(REQUIRED, pwrite64, ssize_t, (int, const void *, size_t, off64_t))                              \
  X(REQUIRED, ftruncate, int, (int, off_t))                                                         \
  X(REQUIRED, ftruncate64, int, (int, off64_t))                                                     \
  X(REQUIRED, _exit, void, (int))                                                                   \
  X(REQUIRED, _Exit, void, (int))                                                                   \
  X(REQUIRED, read, ssize_t, (int, void *, size_t))                                                 \
  X(REQUIRED, pread, ssize_t, (int, void *, size_t, off_t))                                         \
  X(REQUIRED, pread64, ssize_t, (int, void *, size_t, off64_t))                                     \
  X(REQUIRED, getxattr, ssize_t, (const char *, const char *, void *, size_t))                      \
  X(REQUIRED, lgetxattr, ssize_t, (const char *, const char *, void *, size_t))                     \
  X(REQUIRED, listxattr, ssize_t, (const char *, char *, size_t))                                   \
  X(REQUIRED, llistxattr, ssize_t, (const char *, char *, size_t))                                  \
  X(REQUIRED, fstat, int, (int, struct stat *))                                                     \
  X(REQUIRED, fstat64, int, (int, struct stat64 *))                                                 \
  X(OPTIONAL, __fxstat, int, (int, int, struct stat *))                                             \
  X(OPTIONAL, __fxstat64, int, (int, int, struct stat64 *))                                         \
  X(REQUIRED, mmap, void *, (void *, size_t, int, int, int, off_t))                                 \
  X(REQUIRED, mmap64, void *, (void *, size_t, int, int, int, off64_t))                             \
  X(REQUIRED, fseek, int, (FILE *, long, int))                                                      \
  X(REQUIRED, fseeko, int, (FILE *, off_t, int))                                                    \
  X(REQUIRED, fseeko64, int, (FILE *, off64_t, int))                                                \
  X(REQUIRED, ftell, long, (FILE *))                                                                \
  X(REQUIRED, ftello, off_t, (FILE *))                                                              \
  X(REQUIRED, ftello64, off64_t, (FILE *))                                                          \
  X(REQUIRED, rewind, void, (FILE *))                                                               \
  X(REQUIRED, fgetpos, int, (FILE *, fpos_t *))                                                     \
  X(REQUIRED, fgetpos64, int, (FILE *, fpos64_t *))                                                 \
  X(REQUIRED, fsetpos, int, (FILE *, const fpos_t *))                                               \
  X(REQUIRED, fsetpos64, int, (FILE *, const fpos64_t *))

#define SHIM_DECLARE_REAL(req, name, ret, params) extern SHIM_HIDDEN ret(*real_##name) params;
SHIM_REAL_SYMBOLS(SHIM_DECLARE_REAL)
#undef SHIM_DECLARE_REAL

/* Binds the real_* table once (pthread_once; safe from any thread, before or during constructors). */
SHIM_HIDDEN void shim_real_bind(void);

/* ---- init.c: configuration, read once from the environment ------------------------------------ */
struct shim_config {
  int active;              /* DISKLESS_SOCKET and DISKLESS_DIR set and valid */
  int log_level;           /* DISKLESS_SHIM_LOG */
  char socket_path[108];   /* sizeof(sockaddr_un.sun_path) */
  size_t socket_path_len;
  char vdir[4096];         /* DISKLESS_DIR, lexically normalised, no trailing '/' */
  size_t vdir_len;
  char vdir_real[4096];    /* realpath(DISKLESS_DIR) when it differs, else "" */
  size_t vdir_real_len;
  char token[128];         /* DISKLESS_TOKEN ("" if unset: the uploader will refuse) */
  size_t token_len;
  char standin[4096];      /* DISKLESS_STANDIN: empty private directory a reopen gets ("" if unset) */
  uint64_t random_limit;   /* DISKLESS_RANDOM_ACCESS_LIMIT (bytes; default 64 MiB) */
  int socket_buffer;       /* DISKLESS_SOCKET_BUFFER: SO_SNDBUF of a written file's connection (0: the kernel's default) */
  int read_mode;           /* DISKLESS_READ: SHIM_READ_NONE, SHIM_READ_ONLY (1, run --from), SHIM_READ_BESIDE (2, --from with --to) */
  char read_socket_path[108]; /* DISKLESS_READ_SOCKET (READ_OPEN goes there); in a --from run without it, socket_path */
  size_t read_socket_path_len; /* 0: no read socket, stored files are not read back (reopens get the stand-in) */
};
/* read_mode: whether the directory shows a stored backup (its files are placeholders, docs/SHIM.md "Reads"), and
 * whether the program may write new names beside it. */
enum { SHIM_READ_NONE = 0, SHIM_READ_ONLY = 1, SHIM_READ_BESIDE = 2 };
extern SHIM_HIDDEN struct shim_config shim_cfg;

/* Reads the environment (once) and binds the real symbols (once). Every hook calls it first. */
SHIM_HIDDEN void shim_ensure(void);

/* Pid of this process image as the shim knows it (set at init and in the fork child handler). */
extern SHIM_HIDDEN pid_t shim_pid;
/* Raw getpid(2): never cached by libc, so it tells a vfork/CLONE_VM child from its parent. */
SHIM_HIDDEN pid_t shim_raw_getpid(void);
/* True in a child that shares the parent's memory (vfork, posix_spawn, clone(CLONE_VM)) or was
 * created without fork handlers (_Fork, raw clone): such a child must not touch shared state. */
SHIM_HIDDEN int shim_in_foreign_child(void);

/* ---- hook_exec.c: 0, or EPERM (logged and reported as FAIL) for a static or setuid program
 * whose arguments or working directory point into the virtual directory. search: PATH lookup. */
SHIM_HIDDEN int exec_check(const char *file, int search, char *const argv[]);

/* ---- logging: "diskless-shim[pid]: ..." on stderr via write(2), never stdio ------------------ */
enum { SHIM_LOG_ERROR = 1, SHIM_LOG_INFO = 2, SHIM_LOG_DEBUG = 3 };
SHIM_HIDDEN void shim_log(int level, const char *fmt, ...) SHIM_PRINTF(2, 3);
#define SHIM_LOG(level, ...)                                                                       \
  do {                                                                                             \
    if (shim_cfg.log_level >= (level)) shim_log((level), __VA_ARGS__);                             \
  } while (0)

#endif
