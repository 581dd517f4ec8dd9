/* close() of the last reference waits for the upload's RESULT (the test makes the store slow). argv[1]: the
 * minimum wait in milliseconds. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("close_waits_for_upload_result");
  CHECK(argc == 2, "usage: close_waits_for_upload_result MIN_MS");
  int fd = open(vfile("slow"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "slow\n", 5);
  double t0 = now_ms();
  CHECK(close(fd) == 0, "close: %s", ERR);
  double waited = now_ms() - t0;
  CHECK(waited >= atof(argv[1]), "close returned after %.0f ms, before the upload's result", waited);
  return 0;
}
