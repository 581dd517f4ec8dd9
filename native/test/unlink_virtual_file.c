/* unlink/unlinkat/remove of a virtual file delete it at the uploader; a name the uploader does not
 * know falls through to the real call (ENOENT, or a real directory's EISDIR). */
#include "shim_test.h"

static void create(const char *name) {
  int fd = open(vfile(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open %s: %s", name, ERR);
  write_all(fd, "x", 1);
  CHECK(close(fd) == 0, "close %s: %s", name, ERR);
}

int main(void) {
  TEST_MAIN("unlink_virtual_file");
  struct stat st;
  create("a");
  create("b");
  create("c");
  create("keep");
  CHECK(unlink(vfile("a")) == 0, "unlink: %s", ERR);
  errno = 0;
  CHECK(stat(vfile("a"), &st) == -1 && errno == ENOENT, "stat after unlink: %s", ERR);
  errno = 0;
  CHECK(unlink(vfile("a")) == -1 && errno == ENOENT, "second unlink: %s", ERR);
  CHECK(unlinkat(AT_FDCWD, vfile("b"), 0) == 0, "unlinkat: %s", ERR);
  CHECK(remove(vfile("c")) == 0, "remove: %s", ERR);

  CHECK(mkdir(vfile("dir"), 0755) == 0, "mkdir: %s", ERR);
  errno = 0;
  CHECK(unlink(vfile("dir")) == -1 && (errno == EISDIR || errno == EPERM), "unlink of a real directory: %s", ERR);
  CHECK(unlinkat(AT_FDCWD, vfile("dir"), AT_REMOVEDIR) == 0, "rmdir via unlinkat: %s", ERR);
  return 0;
}
