/* fopen("w") + fprintf + fclose (pg_dump's toc.dat, mydumper's files); "we" sets FD_CLOEXEC. */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("fopen_w_and_fprintf");
  FILE *f = fopen(vfile("lines.txt"), "w");
  CHECK(f != NULL, "fopen w: %s", ERR);
  struct stat st;
  CHECK(fstat(fileno(f), &st) == 0 && S_ISSOCK(st.st_mode), "the stream is not on a socket");
  for (int i = 0; i < 1000; i++) CHECK(fprintf(f, "line %d\n", i) > 0, "fprintf: %s", ERR);
  CHECK(fclose(f) == 0, "fclose: %s", ERR);

  f = fopen(vfile("cloexec.txt"), "we");
  CHECK(f != NULL, "fopen we: %s", ERR);
  CHECK((fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) != 0, "fopen \"we\" did not set FD_CLOEXEC");
  CHECK(fputs("e\n", f) >= 0, "fputs: %s", ERR);
  CHECK(fclose(f) == 0, "fclose: %s", ERR);

  f = fopen(vfile("binary.bin"), "wb+");
  CHECK(f != NULL, "fopen wb+: %s", ERR);
  CHECK(fwrite("\0\1\2", 1, 3, f) == 3, "fwrite: %s", ERR);
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  return 0;
}
