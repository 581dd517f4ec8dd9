/*
 * Random-access files (docs/SHIM.md "random-access files"): a file created under the virtual
 * directory with O_RDWR (mkstemp, Python's tempfile, rsync's temporary files, sqlite3, zip) is held
 * in a memfd, so that seeks, reads, pwrite and ftruncate work as on a local file. Its upload
 * (an OPEN conversation, begun at open so that the name exists for stat, O_EXCL and rename) carries
 * the memfd's bytes when the last descriptor is closed, or when the process exits.
 * DISKLESS_RANDOM_ACCESS_LIMIT bounds its size: a write past it fails with EFBIG (and a line naming
 * --random-access-limit); a file that grew past it through libc-internal writes fails at close.
 */
#ifndef DISKLESS_SHIM_RANDOM_ACCESS_H
#define DISKLESS_SHIM_RANDOM_ACCESS_H

#include "fd_table.h"
#include "shim.h"

/* Opens rel as a random-access file; returns the memfd (tracked as FD_MEMORY) or -1 with errno. */
SHIM_HIDDEN int ra_open(const char *rel, int flags, mode_t mode);
/* The last descriptor of e (fd, still open) goes away: upload its bytes, wait for RESULT, close the
 * upload socket. Returns 0 or an errno (EFBIG past the limit). Does not close fd. */
SHIM_HIDDEN int ra_finish(int fd, const struct fd_entry *e);
/* A descriptor of e closes while others may still hold the file: the file cannot be stored; the run
 * fails (FAIL), and the upload socket is closed. */
SHIM_HIDDEN void ra_abandon(const struct fd_entry *e);
/* A write of fd (a random-access file) up to byte `end`, at `pos` (the write's offset), is about
 * to happen. Past the limit: a file written only sequentially so far, by this process, through one
 * descriptor, becomes a stream (its bytes so far go to the upload socket, which is dup3'ed onto fd)
 * and 0 is returned; otherwise EFBIG (logged). */
SHIM_HIDDEN int ra_check_size(int fd, uint64_t pos, uint64_t end);
/* fd (a random-access file) was seeked, pwritten or truncated: note whether it went below its end. */
SHIM_HIDDEN void ra_note_position(int fd, uint64_t pos);
/* At process exit: upload every random-access file this process still holds. */
SHIM_HIDDEN void ra_finish_all(void);

/* hook_close.c: ends fd's file as its last close would (upload result awaited, or the random-access
 * file sent), before the caller closes fd. `broken`: the program's data did not all arrive
 * (a failed fflush). Returns 0 or the errno to report. */
SHIM_HIDDEN int file_end_before_close(int fd, int broken, const char *what);

#endif
