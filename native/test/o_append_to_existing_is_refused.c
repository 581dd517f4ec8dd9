/* Appending to an existing virtual file cannot work (objects are immutable): the uploader refuses
 * and open/fopen report its errno (EPERM). O_EXCL on an existing name is EEXIST. Appending to a new
 * name creates it (pg_dump's blobs.toc uses fopen "ab"). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("o_append_to_existing_is_refused");
  int fd = open(vfile("log.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "first\n", 6);
  CHECK(close(fd) == 0, "close: %s", ERR);

  errno = 0;
  CHECK(open(vfile("log.txt"), O_WRONLY | O_CREAT | O_APPEND, 0644) == -1 && errno == EPERM,
        "open O_APPEND of an existing file: %s", ERR);
  errno = 0;
  CHECK(fopen(vfile("log.txt"), "a") == NULL && errno == EPERM, "fopen a of an existing file: %s", ERR);
  errno = 0;
  CHECK(open(vfile("log.txt"), O_WRONLY | O_APPEND) == -1 && errno == EPERM, "open O_APPEND without O_CREAT: %s", ERR);
  errno = 0;
  CHECK(open(vfile("log.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644) == -1 && errno == EEXIST, "O_EXCL: %s", ERR);

  FILE *f = fopen(vfile("blobs.toc"), "ab");
  CHECK(f != NULL, "fopen ab of a new file: %s", ERR);
  fputs("blob 1\n", f);
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  return 0;
}
