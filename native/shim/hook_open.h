/* The open family's logic, shared with the stdio hooks (hook_fopen.c). */
#ifndef DISKLESS_SHIM_HOOK_OPEN_H
#define DISKLESS_SHIM_HOOK_OPEN_H

#include "shim.h"
#include "vpath.h"

/* Which public name the application called: pass-through calls go to the same real name, so a
 * non-virtual call behaves exactly as without the shim (flags untouched: no O_LARGEFILE added). */
enum open_variant {
  OV_OPEN, OV_OPEN64, OV___OPEN, OV___OPEN64, OV___OPEN_2, OV___OPEN64_2,
  OV_OPENAT, OV_OPENAT64, OV___OPENAT_2, OV___OPENAT64_2, OV_CREAT, OV_CREAT64,
};

/* The real call for variant v. */
SHIM_HIDDEN int open_real(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode);

/* open/openat/creat logic: classifies dirfd+path, passes through or opens a virtual file.
 * Must be called inside shim_enter()/shim_leave(). */
SHIM_HIDDEN int open_logic(enum open_variant v, int dirfd, const char *path, int flags, mode_t mode);

/* The same for a path the caller has classified already. */
SHIM_HIDDEN int open_classified(enum open_variant v, int dirfd, const char *path, enum vpath_kind k, const char *rel,
                                int flags, mode_t mode);

/* Does this open read a mode argument? (glibc's __OPEN_NEEDS_MODE) */
#define SHIM_OPEN_NEEDS_MODE(flags) (((flags) & O_CREAT) != 0 || ((flags) & O_TMPFILE) == O_TMPFILE)

#endif
