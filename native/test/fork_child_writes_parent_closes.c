/* After fork, the parent closes its copy BEFORE the child writes: that close must not wait for the
 * upload (it would deadlock, as the child waits for the parent); the child's bytes arrive. */
#include <signal.h>
#include <sys/wait.h>

#include "shim_test.h"

int main(void) {
  TEST_MAIN("fork_child_writes_parent_closes");
  alarm(20); /* a deadlock fails the test instead of hanging it */
  int fd = open(vfile("forked.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  int go[2];
  CHECK(pipe(go) == 0, "pipe: %s", ERR);
  pid_t pid = fork();
  CHECK(pid >= 0, "fork: %s", ERR);
  if (pid == 0) {
    char c;
    close(go[1]);
    if (read(go[0], &c, 1) != 1) _exit(2);
    write_all(fd, "from the child\n", 15);
    if (close(fd) != 0) _exit(3);
    _exit(0);
  }
  close(go[0]);
  double t0 = now_ms();
  CHECK(close(fd) == 0, "parent close: %s", ERR);
  CHECK(now_ms() - t0 < 2000, "the parent's close waited for the upload");
  write_all(go[1], "g", 1);
  int status;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %s", ERR);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);
  return 0;
}
