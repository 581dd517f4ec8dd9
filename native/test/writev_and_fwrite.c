/* writev on a virtual descriptor and fwrite on a virtual stream need no hook: the kernel moves the
 * bytes. */
#include <sys/uio.h>

#include "shim_test.h"

int main(void) {
  TEST_MAIN("writev_and_fwrite");
  int fd = open(vfile("v.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three\n", 6}};
  CHECK(writev(fd, iov, 3) == 14, "writev: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  enum { SIZE = 100000 };
  static unsigned char buf[SIZE];
  for (size_t i = 0; i < SIZE; i++) buf[i] = pattern(i, 2);
  FILE *f = fopen(vfile("w.bin"), "wb");
  CHECK(f != NULL, "fopen: %s", ERR);
  CHECK(fwrite(buf, 1, SIZE / 2, f) == SIZE / 2, "fwrite: %s", ERR);
  CHECK(fwrite(buf + SIZE / 2, SIZE / 2, 1, f) == 1, "fwrite: %s", ERR);
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  return 0;
}
