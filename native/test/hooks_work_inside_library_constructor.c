/* Hooks work when called from constructors: in a shared library the program links (initialised
 * BEFORE the preloaded shim's own constructor) and in the program itself.
 * Built twice: with -DSHIM_TEST_LIBRARY as libctor.so, and as the program linked with it. */
#include "shim_test.h"

static int write_file(const char *name, const char *text) {
  const char *dir = getenv("DISKLESS_DIR");
  char path[4200];
  if (dir == NULL) return -100;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return -101;
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) return errno;
  if (close(fd) != 0) return errno;
  FILE *f = fopen(path, "r"); /* a reopen: the uploader knows the file now */
  if (f == NULL) return errno;
  fclose(f);
  return 0;
}

#ifdef SHIM_TEST_LIBRARY
int library_ctor_result = -1;
__attribute__((constructor)) static void library_ctor(void) {
  library_ctor_result = write_file("from-library-ctor", "library constructor\n");
}
#else
extern int library_ctor_result;
static int program_ctor_result = -1;
__attribute__((constructor)) static void program_ctor(void) {
  program_ctor_result = write_file("from-program-ctor", "program constructor\n");
}

int main(void) {
  TEST_MAIN("hooks_work_inside_library_constructor");
  CHECK(library_ctor_result == 0, "in the library's constructor: result %d (%s)", library_ctor_result,
        library_ctor_result > 0 ? strerror(library_ctor_result) : "not a virtual file");
  CHECK(program_ctor_result == 0, "in the program's constructor: result %d (%s)", program_ctor_result,
        program_ctor_result > 0 ? strerror(program_ctor_result) : "not a virtual file");
  return 0;
}
#endif
