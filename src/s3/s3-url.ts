import { UsageError } from '../errors.js';

export interface S3Location {
  bucket: string;
  /** Key or prefix; may be empty for `s3://bucket/`. */
  key: string;
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.\-_]{1,254}$/i;

/** Parses `s3://bucket/key`. `what` names the argument in error messages. */
export function parseS3Url(text: string, what = 'URL'): S3Location {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(text);
  if (!m) {
    throw new UsageError(`${what} "${text}" is not an S3 URL; write it as s3://BUCKET/KEY`);
  }
  const bucket = m[1]!;
  const key = m[2] ?? '';
  if (!BUCKET_RE.test(bucket)) {
    throw new UsageError(
      `${what} "${text}" has no valid bucket name ("${bucket}"); bucket names are 3-255 letters, digits, dots, dashes or underscores`,
    );
  }
  if (Buffer.byteLength(key, 'utf8') > 1024) {
    throw new UsageError(`${what}: the key is longer than S3's limit of 1024 bytes`);
  }
  return { bucket, key };
}

/** Parses an S3 URL that must name an object (not a bucket or a prefix ending in /). */
export function parseObjectUrl(text: string, what = 'URL'): S3Location {
  const loc = parseS3Url(text, what);
  if (loc.key === '' || loc.key.endsWith('/')) {
    throw new UsageError(`${what} "${text}" names no object; write s3://${loc.bucket}/path/to/object`);
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
