/*
 * run --from (DISKLESS_READ=1): what the hooks share about the descriptor of a file of the backup
 * (FD_READ: a socket fed by the uploader, READ_OPEN in wire.def). docs/SHIM.md, "Reads".
 */
#ifndef DISKLESS_SHIM_READ_FD_H
#define DISKLESS_SHIM_READ_FD_H

#include <stdio.h>

#include "shim.h"

/* hook_seek.c: moves the stream of fd (this process's FD_READ entry) as lseek would: a short seek
 * forward reads and drops, another opens a new stream at the offset and dup3()s it over fd. The
 * entry's pos must be the stream's position. -1 with errno (ESPIPE: not such a descriptor, or
 * shared; EIO: the file did not check out). */
SHIM_HIDDEN off64_t read_seek(int fd, off64_t offset, int whence);

/* hook_stdio.c: a stream just opened (fopen, freopen) on such a descriptor: has stdio count the
 * bytes it reads from it, so that ftello and fseeko know where it is. */
SHIM_HIDDEN void stdio_track_read(FILE *fp);

#endif
