/* open(O_WRONLY|O_CREAT|O_TRUNC) under the virtual directory returns a socket carrying the bytes;
 * FD_CLOEXEC is set only when O_CLOEXEC was asked for; close() returns the upload's success. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("open_creates_virtual_file");
  int fd = open(vfile("a.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open a.txt: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode), "the descriptor of a virtual file is not a socket");
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0, "FD_CLOEXEC is set although O_CLOEXEC was not asked for");
  write_all(fd, "hello, diskless\n", 16);
  CHECK(close(fd) == 0, "close a.txt: %s", ERR);

  fd = open(vfile("b.txt"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  CHECK(fd >= 0, "open b.txt: %s", ERR);
  CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "O_CLOEXEC was not honoured");
  write_all(fd, "b", 1);
  CHECK(close(fd) == 0, "close b.txt: %s", ERR);

  /* An empty file is a file too. */
  fd = open(vfile("empty"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open empty: %s", ERR);
  CHECK(close(fd) == 0, "close empty: %s", ERR);
  return 0;
}
