/* freopen(virtual, "w", stdout) keeps stdout on fd 1; printf goes to the virtual file; fclose(stdout)
 * waits for and reports the upload's outcome. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("freopen_stdout_to_virtual_file");
  printf("buffered before freopen, goes to the old stdout\n");
  FILE *f = freopen(vfile("out.txt"), "w", stdout);
  CHECK(f == stdout, "freopen returned %p, not stdout: %s", (void *)f, ERR);
  CHECK(fileno(stdout) == 1, "stdout moved to fd %d", fileno(stdout));
  struct stat st;
  CHECK(fstat(1, &st) == 0 && S_ISSOCK(st.st_mode), "fd 1 is not the virtual file's socket");
  for (int i = 0; i < 3; i++) printf("printf line %d\n", i);
  CHECK(fclose(stdout) == 0, "fclose(stdout): %s", ERR);

  /* And again on stderr's stream, with mode "a" on a new name. */
  f = freopen(vfile("err.txt"), "a", stderr);
  if (f == NULL) _exit(3);
  fprintf(stderr, "to err.txt\n");
  if (fclose(stderr) != 0) _exit(4);
  return 0;
}
