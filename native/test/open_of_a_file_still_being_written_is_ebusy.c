/* A second open for writing of a virtual file still open for writing fails with EBUSY (one object
 * cannot have two writers); O_EXCL sees the name and fails with EEXIST, as for any existing file
 * (lock files, mkstemp's retry). A read-only open of it succeeds (fsync works) but its reads fail with
 * EISDIR: it is not stored yet, and never read as empty. Once the first is closed, the name can be
 * read back and written again, and the new bytes replace the old. */
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
  int rd = open(vfile("busy"), O_RDONLY);
  CHECK(rd >= 0, "read-only open while it is written: %s", ERR);
  char c;
  errno = 0;
  CHECK(read(rd, &c, 1) == -1 && errno == EISDIR, "a read of a file still being written must fail (EISDIR), never give data or EOF");
  CHECK(fsync(rd) == 0 && close(rd) == 0, "fsync and close of the read-only descriptor: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  char back[16] = {0};
  rd = open(vfile("busy"), O_RDONLY);
  CHECK(rd >= 0, "read-only open once stored: %s", ERR);
  CHECK(read(rd, back, sizeof back) == 6 && memcmp(back, "first\n", 6) == 0, "read back once stored: \"%s\"", back);
  CHECK(close(rd) == 0, "close of the read-back: %s", ERR);

  fd = open(vfile("busy"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open after close: %s", ERR);
  write_all(fd, "second\n", 7);
  CHECK(close(fd) == 0, "close: %s", ERR);
  return 0;
}
