import { AgeDecryptor, noIdentity, type EncryptionRecord } from '../crypto/age-stream.js';
import { identitiesFor, type Identity } from '../crypto/recipients.js';
import { downloadObject, readSmallObject, type DownloadResult } from '../download/object-reader.js';
import { VerificationError, describeError } from '../errors.js';
import { putManifestKey } from '../manifest/put-manifest.js';
import { parseManifest } from '../manifest/read-manifest.js';
import { formatS3Url, parseObjectUrl } from '../s3/s3-url.js';
import { openSession, type SessionOptions } from './session.js';

export interface GetOptions extends SessionOptions {
  url: string;
  output: NodeJS.WritableStream;
  signal?: AbortSignal;
  /** Told the size of each chunk read (progress lines). */
  onBytes?: (n: number) => void;
  /** age identities: an encrypted object is decrypted with them (without any, its ciphertext is written). */
  identities?: readonly Identity[];
}

export interface GetResult extends DownloadResult {
  /** Set when the object was decrypted: the plaintext's size and CRC32C (checked against the manifest). */
  decrypted?: { size: number; crc32c: string };
}

/**
 * `diskless get`: writes what `put` stored (one object or a chain) to `output`, checking its
 * CRC32C (and SHA-256 when recorded) against put's manifest `KEY.diskless.json` when there is
 * one; a mismatch fails after the bytes were written (exit 4), since a pipe cannot take them back.
 * An encrypted object is decrypted with `identities` (only authenticated bytes are written; a
 * wrong identity fails before any byte is read, exit 7), or written as stored without them.
 */
export async function get(options: GetOptions): Promise<GetResult> {
  const ref = parseObjectUrl(options.url, 'source');
  const session = await openSession(options);
  try {
    const sidecar = { bucket: ref.bucket, key: putManifestKey(ref.key) };
    let expected: { crc32c?: string; sha256?: string } = {};
    let encryption: EncryptionRecord | undefined;
    let recorded = false;
    try {
      const text = await readSmallObject(session, sidecar, options.signal);
      const file = text === undefined ? undefined : parseManifest(text, formatS3Url(sidecar)).files.find((f) => f.key === ref.key);
      if (file) expected = { ...(file.crc32c ? { crc32c: file.crc32c } : {}), ...(file.sha256 ? { sha256: file.sha256 } : {}) };
      encryption = file?.encryption;
      recorded = file !== undefined;
    } catch (err) {
      session.log.warn(`${formatS3Url(sidecar)} not read (${describeError(err)}); checking sizes only`);
    }
    const what = formatS3Url(ref);
    let decrypt: AgeDecryptor | undefined;
    if (options.identities?.length && recorded && !encryption) {
      session.log.warn(`${what} is not encrypted (its manifest says so): --identity is not needed`);
    } else if (options.identities?.length) {
      // Without a manifest the object may still be age: every identity is tried.
      const usable = identitiesFor(options.identities, encryption?.recipients);
      if (usable.length === 0) throw noIdentity(what, encryption?.recipients);
      decrypt = new AgeDecryptor({ identities: usable.map((i) => i.secret), ...(encryption ? { recipients: encryption.recipients } : {}), what });
    } else if (encryption) {
      session.log.warn(`${what} is age-encrypted (for ${encryption.recipients.join(', ')}): writing the ciphertext as stored; pass --identity FILE to decrypt, or pipe it into age -d -i FILE`);
    }
    const result = await downloadObject(session, ref, options.output, options.signal, expected, decrypt, options.onBytes);
    if (!decrypt) return result;
    const decrypted = { size: decrypt.plaintextBytes, crc32c: decrypt.plaintextCrc32c };
    if (encryption && (decrypted.size !== encryption.plaintextSize || decrypted.crc32c !== encryption.plaintextCrc32c)) {
      throw new VerificationError(
        `${what}: decrypted ${decrypted.size} bytes with CRC32C ${decrypted.crc32c}, the manifest says ${encryption.plaintextSize} bytes, CRC32C ${encryption.plaintextCrc32c}`,
      );
    }
    return { ...result, decrypted };
  } finally {
    session.close();
  }
}
