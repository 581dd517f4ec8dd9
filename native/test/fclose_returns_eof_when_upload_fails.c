/* When the upload fails, fclose() of the last reference returns EOF with the uploader's errno.
 * argv[1]: file name; argv[2]: expected errno. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("fclose_returns_eof_when_upload_fails");
  CHECK(argc == 3, "usage: fclose_returns_eof_when_upload_fails NAME ERRNO");
  int expected = atoi(argv[2]);
  FILE *f = fopen(vfile(argv[1]), "w");
  CHECK(f != NULL, "fopen: %s", ERR);
  fprintf(f, "doomed, still in the stdio buffer at fclose\n");
  errno = 0;
  int r = fclose(f);
  CHECK(r == EOF && errno == expected, "fclose returned %d, errno %d (%s); expected EOF, errno %d", r, errno, ERR,
        expected);
  return 0;
}
