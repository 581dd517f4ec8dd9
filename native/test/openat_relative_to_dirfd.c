/* openat(dirfd, relative) and open(relative to the cwd) resolve lexically against the directory,
 * with "." and ".." collapsed; directories under the virtual directory are real. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("openat_relative_to_dirfd");
  CHECK(mkdir(vfile("sub"), 0755) == 0, "mkdir sub: %s", ERR);
  int dirfd = open(vfile("sub"), O_RDONLY | O_DIRECTORY);
  CHECK(dirfd >= 0, "open sub as a directory: %s", ERR);

  int fd = openat(dirfd, "../sub/./b.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "openat(dirfd, ../sub/./b.txt): %s", ERR);
  write_all(fd, "via dirfd\n", 10);
  CHECK(close(fd) == 0, "close: %s", ERR);

  CHECK(chdir(vfile("sub")) == 0, "chdir sub: %s", ERR);
  fd = open("c.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open c.txt relative to the cwd: %s", ERR);
  write_all(fd, "via cwd\n", 8);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = openat(AT_FDCWD, "..//d.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "openat(AT_FDCWD, ..//d.txt): %s", ERR);
  write_all(fd, "up one\n", 7);
  CHECK(close(fd) == 0, "close: %s", ERR);

  /* dirfd is ignored for an absolute path */
  fd = openat(dirfd, vfile("e.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "openat(dirfd, absolute): %s", ERR);
  write_all(fd, "absolute\n", 9);
  CHECK(close(fd) == 0, "close: %s", ERR);
  CHECK(close(dirfd) == 0, "close dirfd: %s", ERR);
  return 0;
}
