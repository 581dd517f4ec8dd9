/* creat() (tar's call) creates a virtual file; a megabyte written in pieces arrives intact. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("creat_and_write");
  enum { SIZE = 1 << 20, PIECE = 100000 };
  static unsigned char buf[SIZE];
  for (size_t i = 0; i < SIZE; i++) buf[i] = pattern(i, 1);
  int fd = creat(vfile("big.bin"), 0644);
  CHECK(fd >= 0, "creat: %s", ERR);
  for (size_t off = 0; off < SIZE; off += PIECE) write_all(fd, buf + off, off + PIECE > SIZE ? SIZE - off : PIECE);
  CHECK(close(fd) == 0, "close: %s", ERR);
  return 0;
}
