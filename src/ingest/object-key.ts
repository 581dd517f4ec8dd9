import { constants } from 'node:os';
import { DisklessError } from '../errors.js';
import { describeInvalidUtf8, escapeBytes } from '../util/utf8.js';

const { EINVAL, ENAMETOOLONG, EILSEQ } = constants.errno;

/** A file name that cannot become an S3 key: the open fails with this errno. */
export class KeyError extends DisklessError {
  constructor(message: string, errno: number) {
    super('usage', message, { errno });
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The S3 key of a file of the virtual directory: `prefix` + its path relative to the directory.
 * The path must already be normalised (the shim does it; this checks again): no leading `/`, no
 * empty, `.` or `..` segment; valid UTF-8; no control characters; the key at most 1024 bytes.
 */
export function objectKey(prefix: string, relPath: Buffer | string): string {
  let path: string;
  try {
    path = typeof relPath === 'string' ? relPath : utf8.decode(relPath);
  } catch {
    throw new KeyError(`the file name "${escapeBytes(relPath as Buffer)}" ${describeInvalidUtf8(relPath as Buffer)}; S3 keys must be UTF-8`, EILSEQ);
  }
  if (path === '' || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new KeyError(`"${path}" is not a normalised relative path`, EINVAL);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) {
    throw new KeyError(`the file name ${JSON.stringify(path)} has control characters, which S3 tools handle badly`, EINVAL);
  }
  const key = prefix + path;
  if (Buffer.byteLength(key) > 1024) {
    throw new KeyError(`the key for "${path}" would be ${Buffer.byteLength(key)} bytes; S3 allows 1024`, ENAMETOOLONG);
  }
  return key;
}

/** `s3://b/some/prefix` and `s3://b/some/prefix/` both mean the prefix `some/prefix/`. */
export function normalisePrefix(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}
