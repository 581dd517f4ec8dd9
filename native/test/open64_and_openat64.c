/* Built with -D_FILE_OFFSET_BITS=64: the program imports open64, openat64, creat64, fopen64,
 * freopen64 and stat64, all of which must be intercepted. */
#include "shim_test.h"

static void one(int fd, const char *what) {
  CHECK(fd >= 0, "%s: %s", what, ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode), "%s was not intercepted", what);
  write_all(fd, what, strlen(what));
  CHECK(close(fd) == 0, "close after %s: %s", what, ERR);
}

int main(void) {
  TEST_MAIN("open64_and_openat64");
  one(open(vfile("o64"), O_WRONLY | O_CREAT | O_TRUNC, 0644), "open64");
  one(openat(AT_FDCWD, vfile("oat64"), O_WRONLY | O_CREAT | O_TRUNC, 0644), "openat64");
  one(creat(vfile("c64"), 0644), "creat64");
  FILE *f = fopen(vfile("f64"), "w");
  CHECK(f != NULL, "fopen64: %s", ERR);
  one(dup(fileno(f)), "fopen64");
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  FILE *g = fopen("/dev/null", "w");
  CHECK(g != NULL, "fopen /dev/null: %s", ERR);
  g = freopen(vfile("fr64"), "w", g);
  CHECK(g != NULL, "freopen64: %s", ERR);
  fputs("freopen64", g);
  CHECK(fclose(g) == 0, "fclose: %s", ERR);
  struct stat st;
  CHECK(stat(vfile("o64"), &st) == 0 && st.st_size == 6, "stat64: %s", ERR);
  return 0;
}
