import type { Recipient } from 'age-encryption';

/**
 * The library, loaded when a header is made or opened: its curve code costs about 150 ms at import
 * under diskless's V8 flags, which no command without encryption should pay.
 */
export const ageLibrary = () => import('age-encryption');

/**
 * The age header (age-encryption.org/v1): the recipient stanzas that wrap a random 16-byte file
 * key, and the HMAC over them. Built and opened by the reference implementation (`age-encryption`):
 * X25519 stanzas, HKDF and the MAC are its; the payload is ours (age-stream.ts, Node's OpenSSL
 * ChaCha20-Poly1305, for speed).
 */

export const AGE_MAGIC = 'age-encryption.org/v1\n';
/** A header larger than this is not one diskless wrote (or not an age file at all). */
export const MAX_HEADER_BYTES = 64 * 1024;

/**
 * A header for `recipients` (age1… X25519 public keys) and the file key it wraps. The library's
 * Encrypter makes both: a recipient of ours that adds no stanza sees the file key, and the
 * header is cut from the (empty) file it encrypts. The file key never leaves this process.
 */
export async function makeHeader(recipients: readonly string[]): Promise<{ header: Buffer; fileKey: Buffer }> {
  if (recipients.length === 0) throw new Error('an age header needs at least one recipient');
  const { Encrypter } = await ageLibrary();
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  let fileKey: Buffer | undefined;
  const capture: Recipient = {
    wrapFileKey(key) {
      fileKey = Buffer.from(key);
      return [];
    },
  };
  e.addRecipient(capture);
  // A stream, read here: for a Uint8Array the library collects its output with fetch's Response,
  // which needs WebAssembly (undici): a program embedding the library may run without it
  // (--jitless, --no-expose-wasm).
  const empty = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  const reader = (await e.encrypt(empty)).getReader();
  const parts: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  const file = Buffer.concat(parts);
  const end = headerEnd(file);
  if (!fileKey || end === undefined) throw new Error('age-encryption produced no header');
  return { header: file.subarray(0, end), fileKey };
}

/**
 * The length of the header at the start of `data` (up to and including the MAC line's newline),
 * undefined while it is incomplete; throws when `data` is not an age file.
 */
export function headerEnd(data: Buffer): number | undefined {
  const magic = Math.min(data.length, AGE_MAGIC.length);
  if (data.subarray(0, magic).toString('latin1') !== AGE_MAGIC.slice(0, magic)) throw new NotAgeError();
  // Stanza lines begin with "-> " or are base64: the first line beginning with "--- " is the MAC's.
  const mac = data.indexOf('\n--- ', 0, 'latin1');
  const nl = mac < 0 ? -1 : data.indexOf(0x0a, mac + 5);
  if (nl >= 0) return nl + 1;
  if (data.length > MAX_HEADER_BYTES) throw new NotAgeError(`no end of the header in its first ${MAX_HEADER_BYTES} bytes`);
  return undefined;
}

export class NotAgeError extends Error {
  constructor(detail = 'it does not begin with "age-encryption.org/v1"') {
    super(`not an age-encrypted stream: ${detail}`);
  }
}

/** No identity given matches a recipient of the header (a wrong --identity). */
export class NoMatchingIdentityError extends Error {
  constructor() {
    super('none of the given identities is a recipient of this file');
  }
}

/**
 * The file key of `header`, unwrapped by one of `identities` (AGE-SECRET-KEY-1…); the header's MAC
 * is checked with it. Throws NoMatchingIdentityError when no identity is a recipient, and an
 * Error for a header that is damaged.
 */
export async function openHeader(header: Buffer, identities: readonly string[]): Promise<Buffer> {
  const { Decrypter } = await ageLibrary();
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  try {
    return Buffer.from(await d.decryptHeader(header));
  } catch (err) {
    if (err instanceof Error && /no identity matched/.test(err.message)) throw new NoMatchingIdentityError();
    throw new Error(`the age header is damaged: ${err instanceof Error ? err.message : String(err)}`);
  }
}
