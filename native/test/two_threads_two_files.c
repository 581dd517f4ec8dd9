/* Two threads each write their own virtual file (mydumper's pattern); both arrive intact and both
 * closes report success. */
#include <pthread.h>

#include "shim_test.h"

enum { SIZE = 4 << 20, CHUNK = 65536 };

static void *writer(void *arg) {
  unsigned seed = (unsigned)(size_t)arg;
  static unsigned char bufs[2][CHUNK];
  unsigned char *buf = bufs[seed - 1];
  char name[4200];
  snprintf(name, sizeof name, "%s/thread-%u.bin", vdir(), seed); /* not vfile(): not thread-safe */
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open %s: %s", name, ERR);
  for (size_t off = 0; off < SIZE; off += CHUNK) {
    for (size_t i = 0; i < CHUNK; i++) buf[i] = pattern(off + i, seed);
    write_all(fd, buf, CHUNK);
  }
  CHECK(close(fd) == 0, "close %s: %s", name, ERR);
  return NULL;
}

int main(void) {
  TEST_MAIN("two_threads_two_files");
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, writer, (void *)1) == 0, "pthread_create");
  CHECK(pthread_create(&b, NULL, writer, (void *)2) == 0, "pthread_create");
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  return 0;
}
