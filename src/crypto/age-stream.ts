import { hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { crc32cCombine, crc32cToHex } from '../checksum/crc32c.js';
import { DisklessError } from '../errors.js';
import { CHUNK_SIZE, SEALED_CHUNK_SIZE as SEALED_CHUNK, TAG_SIZE, chunksIn, openChunks, sealChunks, sealedSize } from './age-chunks.js';
import { MAX_HEADER_BYTES, NoMatchingIdentityError, NotAgeError, headerEnd, makeHeader, openHeader } from './age-header.js';

export { CHUNK_SIZE };

/**
 * The age payload (age-encryption.org/v1, "STREAM"): a 16-byte nonce, then the plaintext in
 * 64 KiB chunks, each sealed with ChaCha20-Poly1305 (Node's OpenSSL, on the thread pool: age-chunks.ts) under
 * HKDF-SHA256(file key, salt = nonce, info = "payload"), with the nonce of chunk i being i as an
 * 11-byte big-endian counter and a last-chunk flag byte. Only the last chunk may be short, and
 * empty only when the whole plaintext is; so a cut at any byte, a chunk moved, and a flipped
 * byte all fail authentication, and a decryptor never passes on a byte it has not authenticated.
 */

export const AGE_FORMAT = 'age-v1';
const NONCE_SIZE = 16;

/** What the manifest records of an encrypted file (docs/MANIFEST.md): never a private key. */
export interface EncryptionRecord {
  format: typeof AGE_FORMAT;
  /** The recipients' public keys (age1…): one of their identities decrypts the file. */
  recipients: string[];
  plaintextSize: number;
  plaintextCrc32c: string;
}

/** Decryption failed: no matching identity, or bytes that do not authenticate (damaged, cut, reordered). Exit 7. */
export class DecryptError extends DisklessError {
  constructor(
    message: string,
    readonly reason: 'no-identity' | 'damaged' | 'not-age',
    options?: { cause?: unknown; hints?: readonly string[] },
  ) {
    super('decrypt', message, options);
  }
}

function payloadKey(fileKey: Buffer, nonce: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/** The first bytes of a stream that hold its header and nonce, whatever the header (AgeDecryptor.seek). */
export const HEAD_BYTES = MAX_HEADER_BYTES + NONCE_SIZE;

/** Bytes an age file of `plaintextSize` bytes takes, beyond its header. */
export function payloadSize(plaintextSize: number): number {
  return NONCE_SIZE + sealedSize(plaintextSize, true);
}

/** An upper bound of the header's size for `n` X25519 recipients (for --expected-size). */
export function headerSizeBound(recipients: number): number {
  return 22 + 48 + recipients * 110;
}

/**
 * Encrypts one stream for a set of recipients: `prefix` (header and nonce) first, then the
 * plaintext sealed run by run into buffers the caller provides (the chunking and the pipeline are
 * encrypt-source.ts's). Keeps the plaintext's size and CRC32C for the manifest.
 */
export class AgeEncryptor {
  /** The header and the payload nonce: the stream's first bytes. */
  readonly prefix: Buffer;
  private readonly key: Buffer;
  private counter = 0;
  private done = false;
  /** Plaintext handed to seal() (progress and --expected-size count it as soon as it is read). */
  private bytes = 0;
  /** CRC32C of the plaintext whose runs have settled, joined in stream order. */
  private crc = 0;
  private settled: Promise<void> = Promise.resolve();

  private constructor(
    readonly recipients: readonly string[],
    header: Buffer,
    nonce: Buffer,
    fileKey: Buffer,
  ) {
    this.prefix = Buffer.concat([header, nonce]);
    this.key = payloadKey(fileKey, nonce);
    fileKey.fill(0);
  }

  static async create(recipients: readonly string[]): Promise<AgeEncryptor> {
    const { header, fileKey } = await makeHeader(recipients);
    return new AgeEncryptor(recipients, header, randomBytes(NONCE_SIZE), fileKey);
  }

  get plaintextBytes(): number {
    return this.bytes;
  }

  /**
   * Seals `plain` as the stream's next chunks into `out` (sealedSize(plain.length, final) bytes)
   * on the thread pool; resolves with the ciphertext's length once this run and every earlier one
   * have sealed. Runs may be in flight together (each takes its chunk counters when called);
   * `plain` and `out` must not change until the promise settles. A run that is not `final` is
   * whole 64 KiB chunks; the final run wipes the key.
   */
  seal(plain: Uint8Array, out: Uint8Array, final: boolean): Promise<number> {
    if (this.done) throw new Error('AgeEncryptor: seal after the final run');
    if (final && plain.length === 0 && this.counter > 0) throw new RangeError('AgeEncryptor: the final run is empty after others (only an empty stream ends with an empty chunk)');
    const chunks = chunksIn(plain.length, final);
    const run = sealChunks(this.key, this.counter, plain, out, final);
    this.counter += chunks;
    this.bytes += plain.length;
    if (final) this.dispose();
    const length = plain.length;
    const settled = Promise.all([this.settled, run]).then(([, r]) => {
      this.crc = crc32cCombine(this.crc, r.crc32c, length);
      return r.bytes;
    });
    // The next run waits for this one (and fails with it); marked handled, so that a failure no
    // later run waits for is the caller's to see, never an unhandled rejection.
    this.settled = settled.then(() => undefined);
    this.settled.catch(() => undefined);
    return settled;
  }

  /** Wipes the key (done by the final run; call it when the stream is abandoned). Runs already in flight hold their own copy. */
  dispose(): void {
    this.done = true;
    this.key.fill(0);
  }

  /** What the manifest records: complete once the final run has settled. */
  record(): EncryptionRecord {
    return { format: AGE_FORMAT, recipients: [...this.recipients], plaintextSize: this.bytes, plaintextCrc32c: crc32cToHex(this.crc) };
  }
}

export interface DecryptOptions {
  /** Identities (AGE-SECRET-KEY-1…) to try. */
  identities: readonly string[];
  /** The recipients the manifest names, for the message when no identity matches. */
  recipients?: readonly string[];
  /** What is being decrypted, for messages (an S3 URL). */
  what?: string;
}

/** Sealed chunks opened in one native call once they are known not to be the last (about 1 MiB). */
const RUN_CHUNKS = 16;
const RUN = RUN_CHUNKS * SEALED_CHUNK;

/**
 * Decrypts one age stream: push ciphertext, get plaintext, then `finish()`. Only authenticated
 * bytes come out; a stream cut short (even at a chunk boundary), reordered or altered throws a
 * DecryptError, as does a header no identity opens. The chunks are opened on the thread pool
 * (age-chunks.ts), up to RUN_CHUNKS at a time, each run's plaintext in a buffer of its own.
 */
export class AgeDecryptor {
  /** The header (and nonce) as it arrives, until the file key is known. */
  private head: Buffer = Buffer.alloc(0);
  /** Sealed chunks being collected: the last flag of the last of them is known only once a byte past it arrives. */
  private readonly held = Buffer.allocUnsafe(RUN);
  private heldBytes = 0;
  private key: Buffer | undefined;
  private counter = 0;
  private bytes = 0;
  private crc = 0;
  private done = false;

  constructor(private readonly options: DecryptOptions) {}

  get plaintextBytes(): number {
    return this.bytes;
  }

  get plaintextCrc32c(): string {
    return crc32cToHex(this.crc);
  }

  /** Plaintext of the chunks `chunk` completes; `chunk` is not kept once the promise settles (the caller may reuse it then). */
  async push(chunk: Uint8Array): Promise<Buffer[]> {
    if (this.done) throw new Error('AgeDecryptor: push after finish');
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (!this.key) {
      this.head = Buffer.concat([this.head, data]);
      const rest = await this.readHeader();
      if (rest === undefined) return [];
      data = rest;
    }
    const out: Buffer[] = [];
    for (let at = 0; at < data.length; ) {
      if (this.heldBytes === RUN) {
        out.push(await this.openRun(this.held, false));
        this.heldBytes = 0;
      }
      const rest = data.length - at;
      if (this.heldBytes === 0 && rest > SEALED_CHUNK) {
        // Whole chunks in the input with more after them: opened in place, not copied.
        const n = Math.min(RUN_CHUNKS, Math.floor((rest - 1) / SEALED_CHUNK)) * SEALED_CHUNK;
        out.push(await this.openRun(data.subarray(at, at + n), false));
        at += n;
        continue;
      }
      const n = Math.min(RUN - this.heldBytes, rest);
      data.copy(this.held, this.heldBytes, at, at + n);
      this.heldBytes += n;
      at += n;
    }
    return out;
  }

  /**
   * For a read from plaintext byte `offset` (a seek): `head` is the stream's first bytes, at least its
   * header and nonce (HEAD_BYTES bytes, or the whole stream if shorter). Opens the header and says where
   * the sealed chunk holding `offset` starts in the ciphertext, and how many of its plaintext bytes
   * come before `offset`. Then push the ciphertext from `cipherOffset` on: each chunk is authenticated
   * as usual (its counter, and the last one as the last), so a cut or a reordering still fails.
   */
  async seek(head: Buffer, offset: number): Promise<{ cipherOffset: number; skip: number }> {
    if (this.key || this.done || this.head.length > 0) throw new Error('AgeDecryptor: seek after the start');
    this.head = Buffer.from(head);
    const rest = await this.readHeader();
    if (rest === undefined) throw this.damaged('the stream ends inside its header');
    const chunk = Math.floor(offset / CHUNK_SIZE);
    this.counter = chunk;
    return { cipherOffset: head.length - rest.length + chunk * SEALED_CHUNK, skip: offset - chunk * CHUNK_SIZE };
  }

  async finish(): Promise<Buffer[]> {
    if (this.done) return [];
    this.done = true;
    try {
      if (!this.key) throw this.damaged(this.head.length === 0 ? 'the stream is empty' : 'the stream ends inside its header');
      const lastSealed = this.heldBytes - Math.floor(Math.max(0, this.heldBytes - 1) / SEALED_CHUNK) * SEALED_CHUNK;
      if (this.heldBytes === 0 || lastSealed < TAG_SIZE) throw this.damaged('the stream is cut short (it ends inside a chunk)');
      const last = await this.openRun(this.held.subarray(0, this.heldBytes), true);
      if (lastSealed === TAG_SIZE && this.counter > 1) throw this.damaged('the last chunk is empty after others (not a valid age stream)');
      return [last];
    } finally {
      this.key?.fill(0);
    }
  }

  /** Once the header and nonce are in: the payload bytes that came with them; undefined while incomplete. */
  private async readHeader(): Promise<Buffer | undefined> {
    let end: number | undefined;
    try {
      end = headerEnd(this.head);
    } catch (err) {
      if (err instanceof NotAgeError) throw new DecryptError(`${this.what()}: ${err.message}`, 'not-age');
      throw err;
    }
    if (end === undefined || this.head.length < end + NONCE_SIZE) return undefined;
    let fileKey: Buffer;
    try {
      fileKey = await openHeader(this.head.subarray(0, end), this.options.identities);
    } catch (err) {
      if (err instanceof NoMatchingIdentityError) throw noIdentity(this.what(), this.options.recipients);
      throw this.damaged(err instanceof Error ? err.message : String(err));
    }
    this.key = payloadKey(fileKey, this.head.subarray(end, end + NONCE_SIZE));
    fileKey.fill(0);
    const rest = this.head.subarray(end + NONCE_SIZE);
    this.head = Buffer.alloc(1); // not empty: finish() then says the payload, not the header, is cut
    return rest;
  }

  /** Opens whole sealed chunks (the last flagged final when `final`) into a new buffer, or throws the DecryptError of the first that does not authenticate. */
  private async openRun(sealed: Buffer, final: boolean): Promise<Buffer> {
    const chunks = final ? Math.max(1, Math.ceil(sealed.length / SEALED_CHUNK)) : sealed.length / SEALED_CHUNK;
    const plain = Buffer.allocUnsafe(sealed.length - chunks * TAG_SIZE);
    const run = await openChunks(this.key!, this.counter, sealed, plain, final);
    if (run.failed >= 0) {
      const at = this.counter + run.failed;
      throw this.damaged(
        final && run.failed === chunks - 1
          ? `chunk ${at} does not authenticate as the last chunk: the stream is cut short, or damaged`
          : `chunk ${at} does not authenticate: the stream is damaged or its chunks are out of order`,
      );
    }
    this.counter += chunks;
    this.bytes += run.bytes;
    this.crc = crc32cCombine(this.crc, run.crc32c, run.bytes);
    return plain;
  }

  private damaged(detail: string): DecryptError {
    return new DecryptError(`${this.what()}: decryption failed: ${detail}; nothing unauthenticated was written`, 'damaged');
  }

  private what(): string {
    return this.options.what ?? 'the age stream';
  }
}

/** The error for a header none of the identities opens, naming the recipients that would. */
export function noIdentity(what: string, recipients: readonly string[] | undefined): DecryptError {
  const needed = recipients && recipients.length > 0 ? `it is encrypted to ${recipients.join(', ')}` : 'the manifest does not say to whom it is encrypted';
  return new DecryptError(`${what}: none of the --identity keys given can decrypt it: ${needed}`, 'no-identity', {
    hints: ['pass --identity FILE with the secret key (AGE-SECRET-KEY-1…) of one of these recipients (age-keygen -y FILE prints a key file\'s recipient)'],
  });
}

/**
 * A Transform that decrypts an age stream: only authenticated plaintext comes out, and a stream
 * that does not authenticate ends in an error (get, restore, verify --deep, the read-side shim).
 */
export function decryptTransform(options: DecryptOptions | AgeDecryptor): Transform {
  const d = options instanceof AgeDecryptor ? options : new AgeDecryptor(options);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      d.push(chunk).then(
        (out) => {
          for (const b of out) this.push(b);
          done();
        },
        (err: Error) => done(err),
      );
    },
    flush(done: TransformCallback) {
      d.finish().then(
        (out) => {
          for (const b of out) this.push(b);
          done();
        },
        (err: Error) => done(err),
      );
    },
  });
}
