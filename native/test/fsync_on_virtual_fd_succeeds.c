/* fsync, fdatasync and sync_file_range on a virtual file's socket succeed (the kernel would say
 * EINVAL/ESPIPE), also on a duplicate the fd table does not know. */
#include <sys/socket.h>

#include "shim_test.h"

int main(void) {
  TEST_MAIN("fsync_on_virtual_fd_succeeds");
  int fd = open(vfile("synced"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "data\n", 5);
  CHECK(fsync(fd) == 0, "fsync: %s", ERR);
  CHECK(fdatasync(fd) == 0, "fdatasync: %s", ERR);
  CHECK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0, "sync_file_range: %s", ERR);
  int d = dup(fd);
  CHECK(d >= 0, "dup: %s", ERR);
  CHECK(fsync(d) == 0, "fsync of a duplicate: %s", ERR);
  CHECK(close(d) == 0, "close dup: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  /* Other sockets keep the kernel's answer. */
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %s", ERR);
  errno = 0;
  CHECK(fsync(sv[0]) == -1 && errno == EINVAL, "fsync of an unrelated socket: %s", ERR);
  return 0;
}
