/*
 * Per-thread recursion guard. A hook entered while the same thread is already inside the shim (a
 * signal handler calling close() during a hook, or a libc path that re-enters an exported name)
 * goes straight to the real function: the shim's state and locks are never taken twice.
 * Internal work calls real_* directly and keeps the application's errno intact: a hook sets errno
 * only to report its own failure.
 */
#ifndef DISKLESS_SHIM_REENTRY_H
#define DISKLESS_SHIM_REENTRY_H

#include "shim.h"

extern SHIM_HIDDEN __thread int shim_in_shim __attribute__((tls_model("initial-exec")));

/* Enters the shim if it is active and this thread is not already inside it; returns 1 if entered
 * (the caller must then call shim_leave()), 0 if the caller must pass the call through. */
static inline int shim_enter(void) {
  shim_ensure();
  if (!shim_cfg.active || shim_in_shim) return 0;
  shim_in_shim = 1;
  return 1;
}

static inline void shim_leave(void) { shim_in_shim = 0; }

#endif
