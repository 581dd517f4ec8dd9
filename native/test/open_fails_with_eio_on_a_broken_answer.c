/* An uploader whose answer to OPEN is broken (a malformed frame, another protocol version, a
 * truncated reply, no reply at all) makes open() and fopen() fail with EIO, and the connection's
 * descriptor is closed again. argv[1]: file name. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("open_fails_with_eio_on_a_broken_answer");
  CHECK(argc == 2, "usage: open_fails_with_eio_on_a_broken_answer NAME");
  int probe = dup(2);
  CHECK(probe >= 0, "dup: %s", ERR);
  CHECK(close(probe) == 0, "close: %s", ERR);
  errno = 0;
  int fd = open(vfile(argv[1]), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd == -1 && errno == EIO, "open returned %d, errno %d (%s); expected -1, EIO", fd, errno, ERR);
  errno = 0;
  FILE *f = fopen(vfile(argv[1]), "w");
  CHECK(f == NULL && errno == EIO, "fopen returned %p, errno %d (%s); expected NULL, EIO", (void *)f, errno, ERR);
  int after = dup(2);
  CHECK(after == probe, "a descriptor leaked: the next free one is %d, was %d", after, probe);
  return 0;
}
