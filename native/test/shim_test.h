/*
 * Helpers for the shim's behaviour tests (the programs in native/test). Each checks one behaviour,
 * exits 0 on success, and on failure prints one line "<program>: <reason>" on stderr and exits 1.
 * The vitest files in test/unit/shim compile them, run them against the real uploader (test/support/shim-harness.ts)
 * and check what it stored; broken-uploader.test.ts runs a few against a peer that breaks the protocol.
 */
#ifndef DISKLESS_SHIM_TEST_H
#define DISKLESS_SHIM_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *test_name = "test";

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  dprintf(2, "%s: %s\n", test_name, line);
  _exit(1);
}

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) fail(__VA_ARGS__);                                                                \
  } while (0)

#define ERR strerror(errno)

/* DISKLESS_DIR, the virtual directory (the test fails without it). */
__attribute__((unused)) static const char *vdir(void) {
  const char *d = getenv("DISKLESS_DIR");
  CHECK(d != NULL && d[0] == '/', "DISKLESS_DIR is not set");
  return d;
}

/* DISKLESS_DIR "/" name, in one of a few rotating static buffers. */
__attribute__((unused)) static const char *vfile(const char *name) {
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", vdir(), name);
  return b;
}

__attribute__((unused)) static void write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    CHECK(w > 0, "write(%d) failed: %s", fd, ERR);
    p += w;
    n -= (size_t)w;
  }
}

__attribute__((unused)) static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Byte i of the test pattern: the TS side computes the same ((i * 7 + seed) % 251). */
__attribute__((unused)) static unsigned char pattern(size_t i, unsigned seed) { return (unsigned char)((i * 7 + seed) % 251); }

#define TEST_MAIN(name) test_name = (name)

#endif
