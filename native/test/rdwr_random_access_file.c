/* O_RDWR|O_CREAT in the virtual directory is a random-access file: write, seek back, patch with
 * pwrite, read back, ftruncate; close sends the final bytes. Past DISKLESS_RANDOM_ACCESS_LIMIT a
 * pwrite fails with EFBIG. mkstemp under the directory makes one too (glibc's own would be local). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("rdwr_random_access_file");
  int fd = open(vfile("db"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open O_RDWR: %s", ERR);
  write_all(fd, "hello world, 0123456789", 23);
  CHECK(lseek(fd, 0, SEEK_SET) == 0, "seek back: %s", ERR);
  char buf[5];
  CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0, "read back what was written");
  CHECK(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite: %s", ERR);
  CHECK(ftruncate(fd, 11) == 0, "ftruncate: %s", ERR);
  errno = 0;
  CHECK(pwrite(fd, "x", 1, 1 << 20) == -1 && errno == EFBIG, "a pwrite past the limit must fail with EFBIG");
  CHECK(close(fd) == 0, "close: %s", ERR);

  char t[4096];
  snprintf(t, sizeof t, "%s/tmp.XXXXXX", vdir());
  int tfd = mkstemp(t);
  CHECK(tfd >= 0, "mkstemp: %s", ERR);
  CHECK(strncmp(t, vdir(), strlen(vdir())) == 0 && strstr(t, "XXXXXX") == NULL, "mkstemp did not fill in the name: %s", t);
  write_all(tfd, "temp", 4);
  CHECK(close(tfd) == 0, "close of the mkstemp file: %s", ERR);
  struct stat st;
  CHECK(lstat(t, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4, "the mkstemp file is not a virtual file of 4 bytes");
  CHECK(rename(t, vfile("temp.txt")) == 0, "rename of the mkstemp file: %s", ERR);

  /* Closed while a dup may still hold it: not stored (EIO, FAIL), never half of it. */
  int sfd = open(vfile("shared"), O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(sfd >= 0, "open shared: %s", ERR);
  int copy = dup(sfd);
  CHECK(copy >= 0, "dup: %s", ERR);
  write_all(sfd, "half", 4);
  errno = 0;
  CHECK(close(sfd) == -1 && errno == EIO, "close of a duplicated random-access file must fail with EIO");
  CHECK(close(copy) == 0, "close of the copy: %s", ERR);
  return 0;
}
