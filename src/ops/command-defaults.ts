/**
 * Defaults that a command's --help shows, kept apart from the operations that use them so that the
 * CLI can show them without loading those operations (src/cli/program.ts loads each on use).
 */

/** Ranged GETs in flight per file for `restore`. */
export const DEFAULT_RESTORE_CONCURRENCY = 8;

/** `snapshot` stops a volume when its snapshot (or thin pool) is this full, in percent. */
export const DEFAULT_FILL_ABORT_PERCENT = 90;
