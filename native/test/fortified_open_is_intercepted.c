/* Built with -O2 -D_FORTIFY_SOURCE=2: open/openat with non-constant flags become __open_2 and
 * __openat_2 (tar's imports), which must reach the shim too (here: the reopen of a virtual file). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("fortified_open_is_intercepted");
  int fd = open(vfile("fortified"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "fortified\n", 10);
  CHECK(close(fd) == 0, "close: %s", ERR);

  volatile int flags = O_RDWR; /* not a compile-time constant: the fortified wrappers call __open_2 */
  fd = open(vfile("fortified"), flags);
  CHECK(fd >= 0, "__open_2 reopen: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "__open_2 was not intercepted (not the stand-in reopen)");
  CHECK(fsync(fd) == 0 && close(fd) == 0, "fsync/close: %s", ERR);

  fd = openat(AT_FDCWD, vfile("fortified"), flags);
  CHECK(fd >= 0, "__openat_2 reopen: %s", ERR);
  CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "__openat_2 was not intercepted");
  CHECK(close(fd) == 0, "close: %s", ERR);
  errno = 0;
  CHECK(open(vfile("absent"), flags) == -1 && errno == ENOENT, "__open_2 of a missing file: %s", ERR);
  return 0;
}
