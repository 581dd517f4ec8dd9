/* O_TMPFILE in the virtual directory is refused with EOPNOTSUPP (a nameless file cannot be
 * streamed); applications such as glib fall back to a named temporary file. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("o_tmpfile_is_refused");
  errno = 0;
  CHECK(open(vdir(), O_TMPFILE | O_WRONLY, 0600) == -1 && errno == EOPNOTSUPP, "O_TMPFILE on the directory: %s", ERR);
  CHECK(mkdir(vfile("sub"), 0755) == 0, "mkdir: %s", ERR);
  errno = 0;
  CHECK(openat(AT_FDCWD, vfile("sub"), O_TMPFILE | O_RDWR, 0600) == -1 && errno == EOPNOTSUPP, "O_TMPFILE on a subdirectory: %s",
        ERR);
  return 0;
}
