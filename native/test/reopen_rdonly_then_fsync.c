/* pg_dump's sync pass: reopen an existing virtual file with O_RDONLY or O_RDWR (no O_CREAT/O_TRUNC),
 * fsync/fdatasync/sync_file_range it, close: all succeed and the file is neither truncated nor
 * replaced. O_RDONLY reads the stored bytes back (a socket fed by the uploader), O_RDWR gets the
 * stand-in directory (reads EISDIR, writes EBADF). A name that does not exist is ENOENT
 * (durable_rename relies on it). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("reopen_rdonly_then_fsync");
  int fd = open(vfile("toc.dat"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "table of contents\n", 18);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = open(vfile("toc.dat"), O_RDONLY);
  CHECK(fd >= 0, "reopen O_RDONLY: %s", ERR);
  CHECK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0, "sync_file_range: %s", ERR);
  CHECK(fsync(fd) == 0, "fsync: %s", ERR);
  char back[64] = {0};
  CHECK(read(fd, back, sizeof back) == 18 && memcmp(back, "table of contents\n", 18) == 0, "read back: \"%s\"", back);
  CHECK(read(fd, back, sizeof back) == 0, "end of file after the stored bytes: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = open(vfile("toc.dat"), O_RDWR);
  CHECK(fd >= 0, "reopen O_RDWR: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "an O_RDWR reopen is not the stand-in directory");
  struct stat devnull;
  CHECK(stat("/dev/null", &devnull) == 0 && (st.st_dev != devnull.st_dev || st.st_ino != devnull.st_ino), "a reopen is /dev/null");
  char byte;
  errno = 0;
  CHECK(read(fd, &byte, 1) == -1 && errno == EISDIR, "a read through an O_RDWR reopen must fail, never return data or EOF");
  CHECK(fsync(fd) == 0, "fsync: %s", ERR);
  CHECK(fdatasync(fd) == 0, "fdatasync: %s", ERR);
  errno = 0;
  CHECK(write(fd, "x", 1) == -1 && errno == EBADF, "a write to a reopened virtual file must fail loudly");
  CHECK(close(fd) == 0, "close: %s", ERR);

  errno = 0;
  CHECK(open(vfile("toc.dat.missing"), O_RDWR) == -1 && errno == ENOENT, "reopen of a missing file: %s", ERR);

  /* The directory itself is real: open + fsync work as without the shim. */
  fd = open(vdir(), O_RDONLY);
  CHECK(fd >= 0 && fsync(fd) == 0 && close(fd) == 0, "fsync of the directory: %s", ERR);

  /* fopen "r" of a stored virtual file reads it back. */
  FILE *f = fopen(vfile("toc.dat"), "r");
  CHECK(f != NULL, "fopen r: %s", ERR);
  char line[64];
  CHECK(fgets(line, sizeof line, f) != NULL && strcmp(line, "table of contents\n") == 0 && fgetc(f) == EOF && !ferror(f), "fopen r reads it back");
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  return 0;
}
