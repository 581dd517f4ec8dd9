/* After close, a virtual file appears by path as a regular file of the right size through every
 * stat variant (including the pre-2.33 __xstat ABI) and access(). */
#include <sys/sysmacros.h>

#include "shim_test.h"

int __xstat(int ver, const char *path, struct stat *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);

static void check_stat(const char *how, const struct stat *st) {
  CHECK(S_ISREG(st->st_mode), "%s: not a regular file (mode 0%o)", how, (unsigned)st->st_mode);
  CHECK((st->st_mode & 07777) == 0644, "%s: mode 0%o", how, (unsigned)(st->st_mode & 07777));
  CHECK(st->st_size == 12345, "%s: size %lld", how, (long long)st->st_size);
  CHECK(st->st_nlink == 1, "%s: nlink %lu", how, (unsigned long)st->st_nlink);
  CHECK(st->st_uid == geteuid() && st->st_gid == getegid(), "%s: owner %u:%u", how, st->st_uid, st->st_gid);
  CHECK(st->st_blksize == 4096 && st->st_blocks == (12345 + 511) / 512, "%s: blocks", how);
  CHECK(st->st_ino != 0, "%s: inode 0", how);
  time_t now = time(NULL);
  CHECK(st->st_mtime > now - 86400 && st->st_mtime < now + 86400, "%s: mtime %lld", how, (long long)st->st_mtime);
}

int main(void) {
  TEST_MAIN("stat_after_close_shows_regular_file");
  static char buf[12345];
  memset(buf, 'z', sizeof buf);
  int fd = open(vfile("sized"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, buf, sizeof buf);
  CHECK(close(fd) == 0, "close: %s", ERR);

  struct stat st, st2;
  CHECK(stat(vfile("sized"), &st) == 0, "stat: %s", ERR);
  check_stat("stat", &st);
  CHECK(lstat(vfile("sized"), &st2) == 0, "lstat: %s", ERR);
  check_stat("lstat", &st2);
  CHECK(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev, "inode differs between calls");
  struct stat dir;
  CHECK(stat(vdir(), &dir) == 0 && S_ISDIR(dir.st_mode), "the virtual directory is not a real directory");
  CHECK(st.st_dev == dir.st_dev, "st_dev differs from the virtual directory's");
  CHECK(fstatat(AT_FDCWD, vfile("sized"), &st, 0) == 0, "fstatat: %s", ERR);
  check_stat("fstatat", &st);
  int dfd = open(vdir(), O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0, "open dir: %s", ERR);
  CHECK(fstatat(dfd, "sized", &st, AT_SYMLINK_NOFOLLOW) == 0, "fstatat(dirfd): %s", ERR);
  check_stat("fstatat(dirfd)", &st);
  struct stat64 st64;
  CHECK(stat64(vfile("sized"), &st64) == 0 && st64.st_size == 12345 && S_ISREG(st64.st_mode), "stat64: %s", ERR);
  CHECK(__xstat(1, vfile("sized"), &st) == 0, "__xstat: %s", ERR);
  check_stat("__xstat", &st);
  CHECK(__lxstat(1, vfile("sized"), &st) == 0, "__lxstat: %s", ERR);
  check_stat("__lxstat", &st);
  CHECK(__fxstatat(1, dfd, "sized", &st, 0) == 0, "__fxstatat: %s", ERR);
  check_stat("__fxstatat", &st);

  struct statx stx;
  CHECK(statx(AT_FDCWD, vfile("sized"), 0, STATX_BASIC_STATS, &stx) == 0, "statx: %s", ERR);
  CHECK(S_ISREG(stx.stx_mode) && stx.stx_size == 12345, "statx: mode 0%o size %llu", stx.stx_mode,
        (unsigned long long)stx.stx_size);
  CHECK(makedev(stx.stx_dev_major, stx.stx_dev_minor) == dir.st_dev, "statx: device");

  CHECK(access(vfile("sized"), F_OK) == 0, "access F_OK: %s", ERR);
  CHECK(access(vfile("sized"), R_OK | W_OK) == 0, "access R_OK|W_OK: %s", ERR);
  errno = 0;
  CHECK(access(vfile("sized"), X_OK) == -1 && errno == EACCES, "access X_OK: %s", ERR);
  CHECK(faccessat(dfd, "sized", W_OK, 0) == 0, "faccessat: %s", ERR);
  CHECK(euidaccess(vfile("sized"), F_OK) == 0, "euidaccess: %s", ERR);
  CHECK(eaccess(vfile("sized"), R_OK) == 0, "eaccess: %s", ERR);

  errno = 0;
  CHECK(stat(vfile("missing"), &st) == -1 && errno == ENOENT, "stat of a missing file: %s", ERR);
  errno = 0;
  CHECK(access(vfile("missing"), F_OK) == -1 && errno == ENOENT, "access of a missing file: %s", ERR);
  errno = 0;
  CHECK(stat(vfile("sized/"), &st) == -1 && errno == ENOENT, "stat of \"sized/\" must not find a directory");
  return 0;
}
