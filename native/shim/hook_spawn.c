/*
 * posix_spawn, posix_spawnp, system, popen create children with clone(CLONE_VM|CLONE_VFORK) inside
 * libc: fork handlers do not run, yet the child inherits every descriptor without FD_CLOEXEC. So
 * every descriptor open now may be shared from now on: the fork generation moves, exactly as at
 * fork() (fd_table.c). It moves again after the call, for descriptors another thread opened while
 * the child was being created (fork() needs no second move: its handlers hold the table lock across
 * the clone). posix_spawn and posix_spawnp also apply the exec check of hook_exec.c.
 *
 * posix_spawn and posix_spawnp have two versions in glibc (GLIBC_2.2.5 and GLIBC_2.15);
 * dlsym(RTLD_NEXT) gives the default (2.15), which is what every binary built since 2012 uses.
 */
#include <errno.h>

#include "fd_table.h"
#include "reentry.h"

static void may_share_everything(void) {
  int saved = errno;
  if (shim_enter()) {
    fdt_bump_generation();
    shim_leave();
  }
  errno = saved;
}

/* The exec check of hook_exec.c (a static or setuid program given a path under the directory). */
static int spawn_refused(const char *file, int search, char *const argv[]) {
  int saved = errno;
  int refused = 0;
  if (shim_enter()) {
    refused = exec_check(file, search, argv) != 0;
    shim_leave();
  }
  errno = saved;
  return refused;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  if (spawn_refused(path, 0, argv)) return EPERM;
  may_share_everything();
  int r = real_posix_spawn(pid, path, actions, attr, argv, envp);
  may_share_everything();
  return r;
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  if (spawn_refused(file, 1, argv)) return EPERM;
  may_share_everything();
  int r = real_posix_spawnp(pid, file, actions, attr, argv, envp);
  may_share_everything();
  return r;
}

SHIM_EXPORT int system(const char *command) {
  may_share_everything();
  int r = real_system(command);
  may_share_everything();
  return r;
}

SHIM_EXPORT FILE *popen(const char *command, const char *type) {
  may_share_everything();
  FILE *fp = real_popen(command, type);
  may_share_everything();
  return fp;
}
