/* The shell-redirection pattern: open, dup2 onto stdout, close the original, exec a program that
 * writes to fd 1. The close of the original must not wait (the exec'd program writes later). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("dup2_onto_stdout_then_exec");
  int fd = open(vfile("from-sh.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  CHECK(dup2(fd, 1) == 1, "dup2: %s", ERR);
  double t0 = now_ms();
  CHECK(close(fd) == 0, "close of the original: %s", ERR);
  CHECK(now_ms() - t0 < 2000, "close of a duplicated descriptor blocked");
  execl("/bin/sh", "sh", "-c", "printf 'written by sh\\n'; printf 'second line\\n'", (char *)NULL);
  fail("execl: %s", ERR);
}
