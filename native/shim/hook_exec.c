/*
 * execve, execv, execvp, execvpe, execl, execlp, execle, fexecve, and the posix_spawn pair
 * (hook_spawn.c calls exec_check). The shim lives in the dynamic loader's world: a statically
 * linked program, or a setuid/setgid one (the loader ignores LD_PRELOAD for it), runs without it,
 * so its files under the virtual directory would land on the local disk. Such an exec is refused
 * (EPERM, a line on stderr, and a FAIL to the uploader: the run fails with exit 5) when its
 * working directory or one of its arguments (or the part after an '=') names a path under the
 * virtual directory. Scripts are judged by their interpreter (one level of #!).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>

#include "conn.h"
#include "wire.h"
#include "reentry.h"
#include "vpath.h"

/* Reads up to n bytes at off with the real (unhooked) calls. */
static ssize_t read_at(int fd, void *buf, size_t n, off_t off) {
  ssize_t r;
  do r = real_pread(fd, buf, n, off); while (r < 0 && errno == EINTR);
  return r;
}

/* 1 if path is an ELF without PT_INTERP; for "#!interp", the interpreter's answer (depth 1). */
static int is_static(const char *path, int depth, char why[PATH_MAX + 96]) {
  int fd = real_open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  unsigned char h[256];
  ssize_t n = read_at(fd, h, sizeof h - 1, 0);
  int verdict = 0;
  if (n >= 4 && h[0] == '#' && h[1] == '!' && depth == 0) {
    h[n] = '\0';
    char *p = (char *)h + 2;
    while (*p == ' ' || *p == '\t') p++;
    char *e = p;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n') e++;
    *e = '\0';
    real_close(fd);
    return *p == '/' ? is_static(p, 1, why) : 0;
  }
  if (n >= (ssize_t)sizeof(Elf64_Ehdr) && memcmp(h, ELFMAG, SELFMAG) == 0 && h[EI_CLASS] == ELFCLASS64) {
    Elf64_Ehdr eh;
    memcpy(&eh, h, sizeof eh);
    int interp = 0;
    for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
      Elf64_Phdr ph;
      if (read_at(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph) break;
      if (ph.p_type == PT_INTERP) interp = 1;
    }
    verdict = !interp;
  } else if (n >= (ssize_t)sizeof(Elf32_Ehdr) && memcmp(h, ELFMAG, SELFMAG) == 0 && h[EI_CLASS] == ELFCLASS32) {
    Elf32_Ehdr eh;
    memcpy(&eh, h, sizeof eh);
    int interp = 0;
    for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
      Elf32_Phdr ph;
      if (read_at(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (uint32_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph) break;
      if (ph.p_type == PT_INTERP) interp = 1;
    }
    verdict = !interp;
  }
  real_close(fd);
  if (verdict) snprintf(why, PATH_MAX + 96, "%s is statically linked", path);
  return verdict;
}

static int is_setid(const char *path, char why[PATH_MAX + 96]) {
  struct stat st;
  if (real_stat(path, &st) != 0) return 0;
  if (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) || ((st.st_mode & S_ISGID) && st.st_gid != getegid())) {
    snprintf(why, PATH_MAX + 96, "%s is setuid/setgid (the loader ignores LD_PRELOAD for it)", path);
    return 1;
  }
  return 0;
}

/* The file execvp would run (PATH search for a name without '/'), into out[PATH_MAX]. */
static int resolve(const char *file, int search, char out[PATH_MAX]) {
  if (!search || strchr(file, '/') != NULL) {
    snprintf(out, PATH_MAX, "%s", file);
    return 1;
  }
  const char *path = getenv("PATH");
  if (path == NULL || *path == '\0') path = "/bin:/usr/bin";
  for (const char *p = path;;) {
    const char *e = strchr(p, ':');
    size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
    if (snprintf(out, PATH_MAX, "%.*s%s%s", (int)len, p, len ? "/" : "", file) < PATH_MAX && real_access(out, X_OK) == 0)
      return 1;
    if (e == NULL) return 0;
    p = e + 1;
  }
}

/* Which argument names a path under the virtual directory? NULL if none. */
static const char *virtual_argument(char *const argv[], char rel[PATH_MAX]) {
  for (int i = 1; argv != NULL && argv[i] != NULL; i++) {
    const char *a = argv[i];
    if (a[0] == '\0') continue;
    if (vpath_classify(AT_FDCWD, a, rel) != VPATH_OUTSIDE) return a;
    const char *eq = strchr(a, '=');
    if (eq != NULL && eq[1] != '\0' && vpath_classify(AT_FDCWD, eq + 1, rel) != VPATH_OUTSIDE) return a;
  }
  return NULL;
}

static int cwd_is_virtual(void) {
  char cwd[PATH_MAX], rel[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) return 0;
  char probe[PATH_MAX + 2];
  snprintf(probe, sizeof probe, "%s/x", cwd);
  return vpath_classify(AT_FDCWD, probe, rel) != VPATH_OUTSIDE;
}

SHIM_HIDDEN int exec_check(const char *file, int search, char *const argv[]) {
  char path[PATH_MAX], rel[PATH_MAX], why[PATH_MAX + 96];
  if (file == NULL || !resolve(file, search, path)) return 0;
  const char *arg = virtual_argument(argv, rel);
  int in_cwd = arg == NULL && cwd_is_virtual();
  if (arg == NULL && !in_cwd) return 0;
  if (!is_static(path, 0, why) && !is_setid(path, why)) return 0;
  conn_fail(arg != NULL ? rel : ".",
            "exec of %s refused (EPERM): %s, so the shim cannot see its files, and its %s %s is under the virtual "
            "directory %s; use a dynamically linked build of the program (e.g. GNU tar instead of busybox)",
            path, why, arg != NULL ? "argument" : "working directory", arg != NULL ? arg : "", shim_cfg.vdir);
  return EPERM;
}

/* The check, then (if the exec goes ahead) the clean end of every file whose descriptor the exec
 * closes (FD_CLOEXEC; wire.def: END). */
static int checked(const char *file, int search, char *const argv[]) {
  if (!shim_enter()) return 0;
  int saved = errno;
  int err = exec_check(file, search, argv);
  if (err == 0 && !shim_in_foreign_child()) conn_end_all(WIRE_END_EXEC, 1);
  shim_leave();
  errno = err != 0 ? err : saved;
  return err;
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  if (checked(path, 0, argv) != 0) return -1;
  return real_execve(path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[]) {
  if (checked(path, 0, argv) != 0) return -1;
  return real_execv(path, argv);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[]) {
  if (checked(file, 1, argv) != 0) return -1;
  return real_execvp(file, argv);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  if (checked(file, 1, argv) != 0) return -1;
  return real_execvpe(file, argv, envp);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  if (checked(path, 0, argv) != 0) return -1;
  return real_fexecve(fd, argv, envp);
}

/* execl, execlp, execle: collect the arguments, then the v form (whose check runs once). */
#define COLLECT_ARGS(first, extra_envp)                                                            \
  va_list ap;                                                                                      \
  size_t n = 1;                                                                                    \
  va_start(ap, first);                                                                             \
  while (va_arg(ap, char *) != NULL) n++;                                                          \
  va_end(ap);                                                                                      \
  char *argv[n + 1];                                                                               \
  argv[0] = (char *)(first);                                                                       \
  va_start(ap, first);                                                                             \
  for (size_t i = 1; i <= n; i++) argv[i] = va_arg(ap, char *);                                    \
  if (extra_envp) envp = va_arg(ap, char *const *);                                                \
  va_end(ap);

SHIM_EXPORT int execl(const char *path, const char *arg, ...) {
  char *const *envp = NULL;
  COLLECT_ARGS(arg, 0);
  (void)envp;
  if (checked(path, 0, argv) != 0) return -1;
  return real_execv(path, argv);
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...) {
  char *const *envp = NULL;
  COLLECT_ARGS(arg, 0);
  (void)envp;
  if (checked(file, 1, argv) != 0) return -1;
  return real_execvp(file, argv);
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...) {
  char *const *envp = NULL;
  COLLECT_ARGS(arg, 1);
  if (checked(path, 0, argv) != 0) return -1;
  return real_execve(path, argv, envp);
}
