import { constants } from 'node:os';

/**
 * What went wrong, in the terms a caller acts on. The CLI maps each category to an exit code
 * (src/cli/exit-codes.ts); the library never exits.
 *  - usage: the caller's input is wrong (bad URL, bad flag value); nothing was sent.
 *  - preflight: the environment is not ready (no credentials, no bucket, no access); nothing was read.
 *  - upload: the object store failed or an upload did not verify; nothing was committed.
 *  - producer: the data source failed (command exited non-zero, input error); nothing was committed.
 *  - interrupted: a signal stopped the run; nothing was committed.
 *  - verify: `diskless verify` found a backup that is missing, damaged or incomplete.
 *  - decrypt: an encrypted backup could not be decrypted: no --identity matches its recipients, or its
 *    bytes do not authenticate (damaged, cut short, reordered); nothing unauthenticated was written.
 */
export type ErrorCategory = 'usage' | 'preflight' | 'upload' | 'producer' | 'interrupted' | 'verify' | 'decrypt';

const BRAND = Symbol.for('diskless.error');

export interface DisklessErrorOptions {
  cause?: unknown;
  /** errno a file operation should fail with (used by the LD_PRELOAD shim). Default EIO. */
  errno?: number;
  /** What the user can do about it, one sentence each (the CLI prints them as `hint:` lines). */
  hints?: readonly string[];
}

/** Base class of every error diskless throws on purpose. */
export class DisklessError extends Error {
  readonly category: ErrorCategory;
  readonly errno: number;
  readonly hints: readonly string[];

  constructor(category: ErrorCategory, message: string, options: DisklessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.category = category;
    this.errno = options.errno ?? constants.errno.EIO;
    this.hints = options.hints ?? [];
    Object.defineProperty(this, 'name', { value: new.target.name, enumerable: false, configurable: true });
    Object.defineProperty(this, BRAND, { value: true, enumerable: false });
  }

  /** Unlike `instanceof`, this works across module copies and realms. */
  static is(value: unknown): value is DisklessError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

export class UsageError extends DisklessError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super('usage', message, { errno: constants.errno.EINVAL, ...options });
  }
}

export class PreflightError extends DisklessError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super('preflight', message, options);
  }
}

export class UploadError extends DisklessError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super('upload', message, options);
  }
}

/** The upload finished but what the store holds is not what was sent. */
export class VerificationError extends UploadError {}

/**
 * The stream does not fit the object the caller allowed (e.g. `--no-split`): the input's fault,
 * not the store's, so a producer error (exit 5).
 */
export class ObjectTooLargeError extends DisklessError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super('producer', message, { errno: constants.errno.EFBIG, ...options });
  }
}

/** The key got an object from another writer while this upload ran (a conditional write refused). */
export class ObjectExistsError extends UploadError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super(message, { errno: constants.errno.EEXIST, ...options });
  }
}

export class ProducerError extends DisklessError {
  /** Exit status of the producing command, when there was one. */
  readonly exitStatus: number | null;
  readonly signal: NodeJS.Signals | null;
  constructor(
    message: string,
    details: { exitStatus?: number | null; signal?: NodeJS.Signals | null } = {},
    options?: DisklessErrorOptions,
  ) {
    super('producer', message, options);
    this.exitStatus = details.exitStatus ?? null;
    this.signal = details.signal ?? null;
  }
}

export class InterruptedError extends DisklessError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super('interrupted', `interrupted by ${signal}: nothing was committed`, { errno: constants.errno.EINTR });
    this.signal = signal;
  }
}

/** A backup did not verify (`diskless verify`): the command ran, the backup is not good. */
export class BackupVerifyError extends DisklessError {
  constructor(message: string, options?: DisklessErrorOptions) {
    super('verify', message, options);
  }
}

/** The message of any thrown value, with the messages of its causes. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && msg !== 'UnknownError' && !parts.some((p) => p.includes(msg))) parts.push(msg);
    // diskless's own messages already say what they need of their cause.
    cur = cur instanceof Error && !DisklessError.is(cur) ? cur.cause : undefined;
  }
  return parts.join(': ');
}
