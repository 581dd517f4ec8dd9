/*
 * The typed table of real symbols: real_open, real_close, ... point at the next definition of each
 * hooked name (libc's), found with dlsym(RTLD_NEXT). Bound once, lazily, under pthread_once, by
 * the first hook that runs in the process (which may be inside another library's constructor,
 * before the shim's own constructor). Not from the constructor itself: socket_wrapper's lesson is
 * that binding there breaks tools such as gdb and valgrind.
 *
 * On glibc 2.36 a successful dlsym(RTLD_NEXT) does not allocate; a failing one does (dlerror), which
 * is harmless because the shim does not interpose malloc.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "shim.h"

#define SHIM_DEFINE_REAL(req, name, ret, params) SHIM_HIDDEN ret(*real_##name) params = NULL;
SHIM_REAL_SYMBOLS(SHIM_DEFINE_REAL)
#undef SHIM_DEFINE_REAL

enum { SHIM_REQ_REQUIRED = 1, SHIM_REQ_OPTIONAL = 0 };

static pthread_once_t bind_once = PTHREAD_ONCE_INIT;
static int bind_done;                       /* set (release) when the table is complete */
static __thread int binding_now __attribute__((tls_model("initial-exec")));
static const char self_marker;              /* an address inside this DSO, for dladdr */

static void put(const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = syscall(SYS_write, 2, s, n); /* not the hooked write() */
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Fails loudly: always printed (whatever DISKLESS_SHIM_LOG says), then abort(). */
static void die(const char *what, const char *name, const char *detail) {
  char pid[24];
  int i = (int)sizeof pid - 1;
  unsigned long v = (unsigned long)shim_raw_getpid();
  pid[i] = '\0';
  do pid[--i] = (char)('0' + v % 10); while ((v /= 10) != 0 && i > 0);
  put("diskless-shim[");
  put(pid + i);
  put("]: ");
  put(what);
  put(" '");
  put(name);
  put("'");
  if (detail != NULL) {
    put(": ");
    put(detail);
  }
  put("; aborting\n");
  abort();
}

static void *lookup(const char *name, int required) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p == NULL) {
    /* Old-ABI names (__xstat & co.) may some day exist only as compat versions, which dlsym
     * does not return; ask for the versions they have on x86_64 and aarch64. */
    static const char *const versions[] = {"GLIBC_2.2.5", "GLIBC_2.4", "GLIBC_2.17"};
    for (size_t i = 0; p == NULL && i < sizeof versions / sizeof versions[0]; i++) p = dlvsym(RTLD_NEXT, name, versions[i]);
  }
  if (p == NULL) {
    if (required) {
      const char *err = dlerror();
      die("required libc symbol not found:", name, err);
    }
    return NULL;
  }
  Dl_info found, self;
  if (dladdr(p, &found) != 0 && dladdr(&self_marker, &self) != 0 && found.dli_fbase == self.dli_fbase) {
    /* RTLD_NEXT led back into the shim (loaded twice?): calling it would recurse forever. */
    die("circular reference to the shim's own", name, found.dli_fname);
  }
  return p;
}

static void bind_all(void) {
  binding_now = 1;
#define SHIM_BIND(req, name, ret, params)                                                         \
  {                                                                                                \
    union {                                                                                        \
      void *obj;                                                                                   \
      ret(*fn) params;                                                                             \
    } u;                                                                                           \
    u.obj = lookup(#name, SHIM_REQ_##req);                                                         \
    real_##name = u.fn;                                                                            \
  }
  SHIM_REAL_SYMBOLS(SHIM_BIND)
#undef SHIM_BIND
  binding_now = 0;
  __atomic_store_n(&bind_done, 1, __ATOMIC_RELEASE);
}

SHIM_HIDDEN void shim_real_bind(void) {
  if (__atomic_load_n(&bind_done, __ATOMIC_ACQUIRE)) return;
  /* dlsym never calls back into a hooked name; if some future libc did, pthread_once would
   * deadlock silently. Say so instead. */
  if (binding_now) die("recursive binding of real symbols while resolving", "dlsym", NULL);
  pthread_once(&bind_once, bind_all);
}
