/* chmod, chown, utime and their *at variants on a closed virtual file succeed and change nothing
 * (S3 objects have no mode, owner or times); on a name the uploader does not know they still fail
 * with ENOENT. */
#include <sys/time.h>
#include <utime.h>

#include "shim_test.h"

int main(void) {
  TEST_MAIN("chmod_chown_utime_of_virtual_file_succeed");
  int fd = open(vfile("backup_label"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "label\n", 6);
  CHECK(close(fd) == 0, "close: %s", ERR);

  CHECK(chmod(vfile("backup_label"), 0600) == 0, "chmod: %s", ERR);
  CHECK(fchmodat(AT_FDCWD, vfile("backup_label"), 0600, 0) == 0, "fchmodat: %s", ERR);
  CHECK(chown(vfile("backup_label"), geteuid(), getegid()) == 0, "chown: %s", ERR);
  CHECK(lchown(vfile("backup_label"), geteuid(), getegid()) == 0, "lchown: %s", ERR);
  CHECK(fchownat(AT_FDCWD, vfile("backup_label"), geteuid(), getegid(), 0) == 0, "fchownat: %s", ERR);
  CHECK(utimensat(AT_FDCWD, vfile("backup_label"), NULL, 0) == 0, "utimensat: %s", ERR);
  CHECK(utimes(vfile("backup_label"), NULL) == 0, "utimes: %s", ERR);
  CHECK(utime(vfile("backup_label"), NULL) == 0, "utime: %s", ERR);

  errno = 0;
  CHECK(chmod(vfile("no-such-file"), 0600) == -1 && errno == ENOENT, "chmod of an unknown name: %s", ERR);
  CHECK(utimensat(AT_FDCWD, vfile("no-such-file"), NULL, 0) == -1 && errno == ENOENT, "utimensat of an unknown name: %s", ERR);
  return 0;
}
