/* Once a virtual descriptor was duplicated, no close of either copy waits for the upload (the
 * other copy may still be written). The test makes the store take seconds. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("close_of_duplicated_fd_does_not_wait");
  int fd = open(vfile("duplicated"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  CHECK(d >= 10, "F_DUPFD_CLOEXEC: %s", ERR);
  double t0 = now_ms();
  CHECK(close(fd) == 0, "close original: %s", ERR);
  write_all(d, "via the duplicate\n", 18);
  CHECK(close(d) == 0, "close duplicate: %s", ERR);
  CHECK(now_ms() - t0 < 1000, "a close waited for the upload");
  return 0;
}
