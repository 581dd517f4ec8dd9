/* One thread closes a descriptor of a stored file (read back, FD_READ) while another seeks it
 * (lseek SEEK_CUR: the shim answers from its fd table and the file's name). Neither may touch the
 * entry's name once the close freed it: the test's shim is built with AddressSanitizer, which
 * reports such a read. The seeks succeed until the close, then fail (EBADF, or ESPIPE while the
 * close is under way). Argument: rounds. */
#include <pthread.h>

#include "shim_test.h"

static int shared_fd;
static volatile int started;

static void *seeker(void *arg) {
  (void)arg;
  long seeks = 0;
  for (;;) {
    off_t at = lseek(shared_fd, 0, SEEK_CUR);
    if (seeks++ == 0) __atomic_store_n(&started, 1, __ATOMIC_RELEASE);
    if (at == 0) continue;
    /* ESPIPE: the close took the entry but has not closed the socket yet. */
    CHECK(at == -1 && (errno == EBADF || errno == ESPIPE), "lseek of a read-back file: %lld (%s), want 0, EBADF or ESPIPE", (long long)at, ERR);
    return NULL;
  }
}

int main(int argc, char **argv) {
  TEST_MAIN("close_while_another_thread_seeks");
  int rounds = argc > 1 ? atoi(argv[1]) : 200;
  int fd = open(vfile("seek-race.dat"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open for writing: %s", ERR);
  write_all(fd, "stored bytes\n", 13);
  CHECK(close(fd) == 0, "close after writing: %s", ERR);

  for (int i = 0; i < rounds; i++) {
    shared_fd = open(vfile("seek-race.dat"), O_RDONLY);
    CHECK(shared_fd >= 0, "open read-only (round %d): %s", i, ERR);
    CHECK(lseek(shared_fd, 0, SEEK_CUR) == 0, "lseek of a read-back file before the race: %s", ERR);
    __atomic_store_n(&started, 0, __ATOMIC_RELAXED);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, seeker, NULL) == 0, "pthread_create");
    while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE)) {
    }
    for (volatile int spin = 0; spin < (i % 64) * 50; spin++) {
    }
    CHECK(close(shared_fd) == 0, "close while another thread seeks (round %d): %s", i, ERR);
    pthread_join(t, NULL); /* before the next open can take the same number */
  }
  return 0;
}
