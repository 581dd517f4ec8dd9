/* The per-thread recursion guard (see reentry.h). Initial-exec TLS: the shim is loaded at startup
 * (LD_PRELOAD), so its TLS is static and reading it never calls __tls_get_addr or malloc. */
#include "reentry.h"

SHIM_HIDDEN __thread int shim_in_shim __attribute__((tls_model("initial-exec"))) = 0;
