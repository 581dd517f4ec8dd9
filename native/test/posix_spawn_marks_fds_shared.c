/* posix_spawn creates a child that inherits the descriptor (no fork handlers run): the parent's
 * close afterwards must not wait for the upload, which ends only when the child is done. */
#include <spawn.h>
#include <sys/wait.h>

#include "shim_test.h"

extern char **environ;

int main(void) {
  TEST_MAIN("posix_spawn_marks_fds_shared");
  alarm(20);
  int fd = open(vfile("spawned.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  char fdarg[16];
  snprintf(fdarg, sizeof fdarg, "%d", fd);
  char *argv[] = {"sh", "-c", "sleep 1; printf 'from the spawned child\\n' >&\"$0\"", fdarg, NULL};
  pid_t pid;
  CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0, "posix_spawn failed");
  double t0 = now_ms();
  CHECK(close(fd) == 0, "close: %s", ERR);
  CHECK(now_ms() - t0 < 700, "the parent's close waited for the spawned child");
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
  return 0;
}
