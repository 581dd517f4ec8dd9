/* mydumper's metadata.partial -> metadata: rename of a closed virtual file; afterwards the new name
 * exists and the old one does not. Renames across the virtual directory's boundary are EXDEV.
 * argv[1]: a local directory outside the virtual directory. */
#include "shim_test.h"

int main(int argc, char **argv) {
  TEST_MAIN("rename_after_close");
  CHECK(argc == 2, "usage: rename_after_close LOCAL_DIR");
  FILE *f = fopen(vfile("metadata.partial"), "w");
  CHECK(f != NULL, "fopen: %s", ERR);
  fprintf(f, "Started dump\n");
  CHECK(fflush(f) == 0, "fflush: %s", ERR);
  fprintf(f, "Finished dump\n");
  CHECK(fclose(f) == 0, "fclose: %s", ERR);
  CHECK(rename(vfile("metadata.partial"), vfile("metadata")) == 0, "rename: %s", ERR);

  struct stat st;
  CHECK(stat(vfile("metadata"), &st) == 0 && S_ISREG(st.st_mode), "stat of the new name: %s", ERR);
  CHECK(st.st_size == 27, "size %lld, expected 27", (long long)st.st_size);
  errno = 0;
  CHECK(stat(vfile("metadata.partial"), &st) == -1 && errno == ENOENT, "the old name still exists");

  errno = 0;
  CHECK(rename(vfile("never-written"), vfile("x")) == -1 && errno == ENOENT, "rename of a missing file: %s", ERR);

  char local[4200];
  snprintf(local, sizeof local, "%s/moved-out", argv[1]);
  errno = 0;
  CHECK(rename(vfile("metadata"), local) == -1 && errno == EXDEV, "rename out of the virtual directory: %s", ERR);
  errno = 0;
  CHECK(renameat(AT_FDCWD, vfile("metadata"), AT_FDCWD, vfile("metadata.2")) == 0, "renameat: %s", ERR);
  CHECK(renameat2(AT_FDCWD, vfile("metadata.2"), AT_FDCWD, vfile("metadata"), RENAME_NOREPLACE) == 0, "renameat2: %s", ERR);

  /* A local file moving in: EXDEV too, so mv(1) copies it through the shim. */
  int fd = open(local, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0 && close(fd) == 0, "create local file: %s", ERR);
  errno = 0;
  CHECK(rename(local, vfile("moved-in")) == -1 && errno == EXDEV, "rename into the virtual directory: %s", ERR);

  /* Real directories under the virtual directory rename for real. */
  CHECK(mkdir(vfile("dir1"), 0755) == 0, "mkdir: %s", ERR);
  CHECK(rename(vfile("dir1"), vfile("dir2")) == 0, "rename of a real directory: %s", ERR);
  CHECK(stat(vfile("dir2"), &st) == 0 && S_ISDIR(st.st_mode), "dir2 is not a directory");
  return 0;
}
