/* open() and fopen() of a virtual file fail with the errno the uploader's answer calls for (EIO for
 * a broken answer: a malformed frame, another protocol version, a truncated reply, no reply; EACCES
 * for a refusal), and the connection's descriptor is closed again. argv[1]: file name; argv[2]:
 * the expected errno. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("open_and_fopen_fail_with_errno");
  CHECK(argc == 3, "usage: open_and_fopen_fail_with_errno NAME ERRNO");
  int expected = atoi(argv[2]);
  int probe = dup(2);
  CHECK(probe >= 0, "dup: %s", ERR);
  CHECK(close(probe) == 0, "close: %s", ERR);
  errno = 0;
  int fd = open(vfile(argv[1]), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd == -1 && errno == expected, "open returned %d, errno %d (%s); expected -1, errno %d", fd, errno, ERR, expected);
  errno = 0;
  FILE *f = fopen(vfile(argv[1]), "w");
  CHECK(f == NULL && errno == expected, "fopen returned %p, errno %d (%s); expected NULL, errno %d", (void *)f, errno, ERR, expected);
  int after = dup(2);
  CHECK(after == probe, "a descriptor leaked: the next free one is %d, was %d", after, probe);
  return 0;
}
