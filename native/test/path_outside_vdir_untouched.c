/* Paths outside the virtual directory are untouched: regular local files, no uploader traffic.
 * That includes a sibling whose name merely starts with the virtual directory's name, and a path
 * that leaves it with "..". argv[1]: a local directory. */
#include "shim_test.h"

static void local_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open %s: %s", path, ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "%s is not a regular local file", path);
  write_all(fd, "local\n", 6);
  CHECK(fsync(fd) == 0, "fsync %s: %s", path, ERR);
  CHECK(close(fd) == 0, "close %s: %s", path, ERR);
}

int main(int argc, char **argv) {
  TEST_MAIN("path_outside_vdir_untouched");
  CHECK(argc == 2, "usage: path_outside_vdir_untouched LOCAL_DIR");
  char p[4200];
  snprintf(p, sizeof p, "%s/local.txt", argv[1]);
  local_file(p);
  FILE *f = fopen(p, "a");
  CHECK(f != NULL && fputs("appended\n", f) >= 0 && fclose(f) == 0, "fopen a: %s", ERR);

  snprintf(p, sizeof p, "%s-sibling", vdir());
  CHECK(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", p, ERR);
  snprintf(p, sizeof p, "%s-sibling/file", vdir());
  local_file(p);
  snprintf(p, sizeof p, "%s/../%s", vdir(), "escaped.txt");
  local_file(p);
  struct stat st;
  errno = 0;
  CHECK(stat("/nonexistent/diskless/x", &st) == -1 && errno == ENOENT, "stat outside: %s", ERR);
  char q[4200];
  snprintf(q, sizeof q, "%s/renamed.txt", argv[1]);
  snprintf(p, sizeof p, "%s/local.txt", argv[1]);
  CHECK(rename(p, q) == 0, "rename outside: %s", ERR);
  CHECK(unlink(q) == 0, "unlink outside: %s", ERR);
  return 0;
}
