/* pg_dump's sync pass: reopen an existing virtual file with O_RDONLY or O_RDWR (no O_CREAT/O_TRUNC),
 * fsync/fdatasync/sync_file_range it, close: all succeed and the file is neither truncated nor
 * replaced. A name that does not exist is ENOENT (durable_rename relies on it). */
#include "shim_test.h"

int main(void) {
  TEST_MAIN("reopen_rdonly_then_fsync");
  int fd = open(vfile("toc.dat"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open: %s", ERR);
  write_all(fd, "table of contents\n", 18);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = open(vfile("toc.dat"), O_RDONLY);
  CHECK(fd >= 0, "reopen O_RDONLY: %s", ERR);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && S_ISDIR(st.st_mode), "a reopen is not the stand-in directory");
  struct stat devnull;
  CHECK(stat("/dev/null", &devnull) == 0 && (st.st_dev != devnull.st_dev || st.st_ino != devnull.st_ino), "a reopen is /dev/null");
  char byte;
  errno = 0;
  CHECK(read(fd, &byte, 1) == -1 && errno == EISDIR, "a read of a stored file must fail, never return data or EOF");
  CHECK(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0, "sync_file_range: %s", ERR);
  CHECK(fsync(fd) == 0, "fsync: %s", ERR);
  CHECK(close(fd) == 0, "close: %s", ERR);

  fd = open(vfile("toc.dat"), O_RDWR);
  CHECK(fd >= 0, "reopen O_RDWR: %s", ERR);
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

  /* fopen "r" of a virtual file gives a stream whose reads fail (there is no read-back): never an
   * empty file. */
  FILE *f = fopen(vfile("toc.dat"), "r");
  CHECK(f != NULL, "fopen r: %s", ERR);
  CHECK(fgetc(f) == EOF && ferror(f), "reading a virtual file gave data or a clean end of file");
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  return 0;
}
