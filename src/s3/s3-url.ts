import { UsageError } from '../errors.js';

export interface S3Location {
  bucket: string;
  /** Key or prefix; may be empty for `s3://bucket/`. */
  key: string;
}

/** S3's rule for bucket names (also MinIO's, R2's and Ceph RGW's default). */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const CONTROL_NAMES: Record<number, string> = { 0: 'NUL', 9: 'tab', 10: 'newline', 13: 'carriage return', 27: 'escape', 127: 'DEL' };

/** Parses `s3://bucket/key`. `what` names the argument in error messages. */
export function parseS3Url(text: string, what = 'URL'): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(text);
  if (!m) {
    throw new UsageError(`${what} "${printable(text)}" is not an S3 URL; write it as s3://BUCKET/KEY`);
  }
  const bucket = m[1]!;
  const key = m[2] ?? '';
  const bad = bucketNameProblem(bucket);
  if (bad) {
    throw new UsageError(
      `${what} "${printable(text)}" has an invalid bucket name "${printable(bucket)}" (${bad}); bucket names are 3-63 ` +
        'lowercase letters, digits, dots and dashes, beginning and ending with a letter or digit',
    );
  }
  checkKey(key, what);
  return { bucket, key };
}

/** Why `name` is not a valid S3 bucket name, or undefined if it is. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3) return `${name.length} characters, fewer than 3`;
  if (name.length > 63) return `${name.length} characters, more than 63`;
  if (/[A-Z]/.test(name)) return 'uppercase letters';
  const odd = /[^a-z0-9.-]/.exec(name);
  if (odd) return `the character "${printable(odd[0])}"`;
  if (!BUCKET_RE.test(name)) return 'it must begin and end with a letter or digit';
  if (name.includes('..')) return 'two dots in a row';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'it looks like an IP address';
  return undefined;
}

/**
 * A key (or prefix) S3 tools can handle: valid UTF-8 (Node shows bytes that are not as U+FFFD),
 * no control characters (a newline would split every log line naming it), at most 1024 bytes.
 */
export function checkKey(key: string, what = 'URL'): void {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      const name = CONTROL_NAMES[c] ? ` (${CONTROL_NAMES[c]})` : '';
      throw new UsageError(
        `${what}: the key "${printable(key)}" has the control character 0x${hex(c)}${name} at character ${i + 1}; ` +
          'S3 keys must not contain control characters',
      );
    }
    if (c === 0xfffd) {
      throw new UsageError(
        `${what}: the key "${printable(key)}" has a byte that is not valid UTF-8 at character ${i + 1} (shown as U+FFFD); ` +
          'S3 keys must be UTF-8',
      );
    }
  }
  if (Buffer.byteLength(key, 'utf8') > 1024) {
    throw new UsageError(`${what}: the key is longer than S3's limit of 1024 bytes`);
  }
}

/** `text` with control characters shown as \xNN, so a message stays on one line. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (ch) => `\\x${hex(ch.charCodeAt(0))}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Parses an S3 URL that must name an object (not a bucket or a prefix ending in /). */
export function parseObjectUrl(text: string, what = 'URL'): S3Location {
  const loc = parseS3Url(text, what);
  if (loc.key === '' || loc.key.endsWith('/')) {
    throw new UsageError(`${what} "${printable(text)}" names no object; write s3://${loc.bucket}/path/to/object`);
  }
  return loc;
}

export function formatS3Url(loc: S3Location): string {
  return `s3://${loc.bucket}/${loc.key}`;
}

/**
 * One spelling per endpoint, for comparing them (the journal of open uploads): lower-case scheme and
 * host, no default port, no trailing slash. `HTTP://127.0.0.1:80/` and `http://127.0.0.1` are the same.
 * A text that is not a URL (e.g. `aws`) is returned as it is.
 */
export function normaliseEndpoint(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}
