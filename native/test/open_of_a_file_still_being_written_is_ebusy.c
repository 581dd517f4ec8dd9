/* A second open for writing of a virtual file still open for writing fails with EBUSY (one object
 * cannot have two writers); O_EXCL sees the name and fails with EEXIST, as for any existing file
 * (lock files, mkstemp's retry). Once the first is closed, the name can be written again and the
 * new bytes replace the old. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("open_of_a_file_still_being_written_is_ebusy");
  int fd = open(vfile("busy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "first\n", 6);
  errno = 0;
  CHECK(open(vfile("busy"), O_WRONLY | O_CREAT | O_TRUNC, 0644) == -1 && errno == EBUSY, "second open: %s", ERR);
  errno = 0;
  CHECK(fopen(vfile("busy"), "w") == NULL && errno == EBUSY, "fopen w while open: %s", ERR);
  errno = 0;
  CHECK(open(vfile("busy"), O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST, "O_EXCL while open: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = open(vfile("busy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open after close: %s", ERR);
  write_all(fd, "second\n", 7);
  CHECK(close(fd) == 0, "close: %s", ERR);
  return 0;
}
