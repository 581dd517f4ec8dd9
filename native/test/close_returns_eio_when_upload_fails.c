/* When the upload fails, close() of the last reference returns -1 with the uploader's errno (EIO
 * when the connection dropped without a RESULT). argv[1]: file name; argv[2]: expected errno;
 * argv[3], optional: bytes to write (default 7). */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("close_returns_eio_when_upload_fails");
  CHECK(argc == 3 || argc == 4, "usage: close_returns_eio_when_upload_fails NAME ERRNO [BYTES]");
  int expected = atoi(argv[2]);
  size_t bytes = argc == 4 ? (size_t)atol(argv[3]) : 7;
  int fd = open(vfile(argv[1]), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  static char chunk[65536];
  memset(chunk, 'd', sizeof chunk);
  for (size_t left = bytes; left > 0;) {
    size_t n = left < sizeof chunk ? left : sizeof chunk;
    write_all(fd, chunk, n);
    left -= n;
  }
  errno = 0;
  int r = close(fd);
  CHECK(r == -1 && errno == expected, "close returned %d, errno %d (%s); expected -1, errno %d", r, errno, ERR, expected);
  /* The descriptor is gone all the same, as with any close(). */
  errno = 0;
  CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF, "the descriptor is still open after the failed close");
  return 0;
}
