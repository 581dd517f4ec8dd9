/* open(O_RDONLY | O_CREAT) of a new virtual name creates an empty file and gives the reopen's
 * stand-in descriptor; the same open of the now existing name neither truncates nor replaces it,
 * and with O_EXCL it is EEXIST. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("rdonly_creat_makes_an_empty_file");
  int fd = open(vfile("made"), O_RDONLY | O_CREAT, 0644);
  CHECK(fd >= 0, "open O_RDONLY|O_CREAT of a new name: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "not the stand-in directory");
  CHECK(close(fd) == 0, "close: %s", ERR);
  CHECK(stat(vfile("made"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0, "the new name is not an empty regular file");

  fd = open(vfile("kept"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "kept\n", 5);
  CHECK(close(fd) == 0, "close: %s", ERR);
  fd = open(vfile("kept"), O_RDONLY | O_CREAT, 0644);
  CHECK(fd >= 0, "open O_RDONLY|O_CREAT of an existing name: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);
  CHECK(stat(vfile("kept"), &st) == 0 && st.st_size == 5, "the existing file was truncated");
  errno = 0;
  CHECK(open(vfile("kept"), O_RDONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST, "O_EXCL: %s", ERR);
  return 0;
}
