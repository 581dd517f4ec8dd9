import { downloadObject, readSmallObject, type DownloadResult } from '../download/object-reader.js';
import { describeError } from '../errors.js';
import { putManifestKey } from '../manifest/put-manifest.js';
import { parseManifest } from '../manifest/read-manifest.js';
import { formatS3Url, parseObjectUrl } from '../s3/s3-url.js';
import { openSession, type SessionOptions } from './session.js';

export interface GetOptions extends SessionOptions {
  url: string;
  output: NodeJS.WritableStream;
  signal?: AbortSignal;
  /** Told the size of each chunk written (progress lines). */
  onBytes?: (n: number) => void;
}

/**
 * `diskless get`: writes what `put` stored (one object or a chain) to `output`, checking its
 * CRC32C (and SHA-256 when recorded) against put's manifest `KEY.diskless.json` when there is
 * one; a mismatch fails after the bytes were written (exit 4), since a pipe cannot take them back.
 */
export async function get(options: GetOptions): Promise<DownloadResult> {
  const ref = parseObjectUrl(options.url, 'source');
  const session = await openSession(options);
  try {
    const sidecar = { bucket: ref.bucket, key: putManifestKey(ref.key) };
    let expected: { crc32c?: string; sha256?: string } = {};
    try {
      const text = await readSmallObject(session, sidecar, options.signal);
      const file = text === undefined ? undefined : parseManifest(text, formatS3Url(sidecar)).files.find((f) => f.key === ref.key);
      if (file) expected = { ...(file.crc32c ? { crc32c: file.crc32c } : {}), ...(file.sha256 ? { sha256: file.sha256 } : {}) };
    } catch (err) {
      session.log.warn(`${formatS3Url(sidecar)} not read (${describeError(err)}); checking sizes only`);
    }
    return await downloadObject(session, ref, options.output, options.signal, expected, options.onBytes);
  } finally {
    session.close();
  }
}
