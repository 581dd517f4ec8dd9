/*
 * posix_spawn, posix_spawnp, system, popen create children with clone(CLONE_VM|CLONE_VFORK) inside
 * libc: fork handlers do not run, yet the child inherits every descriptor without FD_CLOEXEC. So
 * every descriptor open now may be shared from now on: the fork generation moves, exactly as at
 * fork() (fd_table.c). It moves again after the call, for descriptors another thread opened while
 * the child was being created (fork() needs no second move: its handlers hold the table lock across
 * the clone). The hooks add no other behaviour.
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

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  may_share_everything();
  int r = real_posix_spawn(pid, path, actions, attr, argv, envp);
  may_share_everything();
  return r;
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
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
