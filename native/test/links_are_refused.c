/* symlink and link with the new name under the virtual directory: EPERM (and a FAIL to the
 * uploader); outside it they work. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("links_are_refused");
  CHECK(argc == 2, "usage: links_are_refused LOCAL_DIR");
  errno = 0;
  CHECK(symlink("target", vfile("link")) == -1 && errno == EPERM, "symlink into the virtual directory: %s", ERR);
  errno = 0;
  CHECK(symlinkat("target", AT_FDCWD, vfile("link2")) == -1 && errno == EPERM, "symlinkat: %s", ERR);
  char local[4096], local2[4096];
  snprintf(local, sizeof local, "%s/f", argv[1]);
  snprintf(local2, sizeof local2, "%s/l", argv[1]);
  int fd = open(local, O_WRONLY | O_CREAT, 0644);
  CHECK(fd >= 0 && close(fd) == 0, "local file: %s", ERR);
  errno = 0;
  CHECK(link(local, vfile("hard")) == -1 && errno == EPERM, "link into the virtual directory: %s", ERR);
  CHECK(symlink("f", local2) == 0, "a symlink outside must work: %s", ERR);
  return 0;
}
