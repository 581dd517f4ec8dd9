/* With the shim preloaded but without DISKLESS_SOCKET/DISKLESS_DIR everything is the real libc:
 * files are local, errors are the kernel's. argv[1]: a local directory. */
#include <sys/socket.h>

#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("no_env_means_passthrough");
  CHECK(argc == 2, "usage: no_env_means_passthrough DIR");
  CHECK(getenv("DISKLESS_SOCKET") == NULL && getenv("DISKLESS_DIR") == NULL, "the diskless environment is set");
  char p[4200], q[4200];
  snprintf(p, sizeof p, "%s/plain.txt", argv[1]);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "not a regular file");
  write_all(fd, "plain\n", 6);
  CHECK(fsync(fd) == 0, "fsync: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);
  FILE *f = fopen(p, "a");
  CHECK(f != NULL && fputs("more\n", f) >= 0 && fclose(f) == 0, "fopen a: %s", ERR);
  snprintf(q, sizeof q, "%s/renamed.txt", argv[1]);
  CHECK(rename(p, q) == 0, "rename: %s", ERR);
  CHECK(stat(q, &st) == 0 && st.st_size == 11, "stat: %s", ERR);
  errno = 0;
  CHECK(stat(p, &st) == -1 && errno == ENOENT, "stat of the old name: %s", ERR);
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", ERR);
  errno = 0;
  CHECK(fsync(sv[0]) == -1 && errno == EINVAL, "fsync of a socket: %s", ERR);
  errno = 0;
  CHECK(open(argv[1], O_TMPFILE | O_WRONLY, 0600) >= 0 || errno == EOPNOTSUPP || errno == EISDIR, "O_TMPFILE: %s", ERR);
  return 0;
}
