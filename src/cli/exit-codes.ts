import { DisklessError, type ErrorCategory } from '../errors.js';

/**
 * Exit codes of the CLI, one per kind of failure, so scripts can tell "the dump failed" from
 * "the upload failed". Documented in the README.
 */
export const EXIT = {
  ok: 0,
  /** Unexpected internal error. */
  internal: 1,
  /** Bad arguments or input: nothing was sent. */
  usage: 2,
  /** Credentials, bucket or access not usable: nothing was read. */
  preflight: 3,
  /** The store failed or the upload did not verify: nothing was committed. */
  upload: 4,
  /** The input or the command failed: nothing was committed. */
  producer: 5,
  /** `diskless verify`: a backup is missing, damaged or incomplete (the store itself answered). */
  verifyFailed: 6,
  /** Decryption failed: no --identity matches the recipients (named), or the ciphertext does not authenticate. */
  decrypt: 7,
  /** Stopped by SIGINT/SIGTERM: nothing was committed (128 + signal number is used when known). */
  interrupted: 130,
} as const;

const BY_CATEGORY: Record<ErrorCategory, number> = {
  usage: EXIT.usage,
  preflight: EXIT.preflight,
  upload: EXIT.upload,
  producer: EXIT.producer,
  interrupted: EXIT.interrupted,
  verify: EXIT.verifyFailed,
  decrypt: EXIT.decrypt,
};

export function exitCodeOf(err: unknown): number {
  if (DisklessError.is(err)) {
    if (err.category === 'interrupted' && 'signal' in err && err.signal === 'SIGTERM') return 143;
    return BY_CATEGORY[err.category];
  }
  return EXIT.upload;
}
