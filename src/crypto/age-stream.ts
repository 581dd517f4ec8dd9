import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { Crc32c } from '../checksum/crc32c.js';
import { DisklessError } from '../errors.js';
import { MAX_HEADER_BYTES, NoMatchingIdentityError, NotAgeError, headerEnd, makeHeader, openHeader } from './age-header.js';

/**
 * The age payload (age-encryption.org/v1, "STREAM"): a 16-byte nonce, then the plaintext in
 * 64 KiB chunks, each sealed with ChaCha20-Poly1305 (Node's OpenSSL) under
 * HKDF-SHA256(file key, salt = nonce, info = "payload"), with the nonce of chunk i being i as an
 * 11-byte big-endian counter and a last-chunk flag byte. Only the last chunk may be short, and
 * empty only when the whole plaintext is; so a cut at any byte, a chunk moved, and a flipped
 * byte all fail authentication, and a decryptor never passes on a byte it has not authenticated.
 */

export const AGE_FORMAT = 'age-v1';
export const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
const NONCE_SIZE = 16;
const SEALED_CHUNK = CHUNK_SIZE + TAG_SIZE;

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

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6); // bytes 0..10 are the counter; 2^48 chunks are far past any stream
  n[11] = last ? 1 : 0;
  return n;
}

/** The sealed chunk as its ciphertext and its tag (two buffers: no copy to join them). */
function seal(key: Buffer, counter: number, last: boolean, plain: Uint8Array): [Buffer, Buffer] {
  const c = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  const body = c.update(plain);
  c.final();
  return [body, c.getAuthTag()];
}

function open(key: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer | undefined {
  const d = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const body = d.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    d.final();
    return body;
  } catch {
    return undefined;
  }
}

/** The first bytes of a stream that hold its header and nonce, whatever the header (AgeDecryptor.seek). */
export const HEAD_BYTES = MAX_HEADER_BYTES + NONCE_SIZE;

/** Bytes an age file of `plaintextSize` bytes takes, beyond its header. */
export function payloadSize(plaintextSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextSize / CHUNK_SIZE));
  return NONCE_SIZE + plaintextSize + chunks * TAG_SIZE;
}

/** An upper bound of the header's size for `n` X25519 recipients (for --expected-size). */
export function headerSizeBound(recipients: number): number {
  return 22 + 48 + recipients * 110;
}

/**
 * Encrypts one stream for a set of recipients: push plaintext, get ciphertext (header and nonce
 * first). Keeps the plaintext's size and CRC32C for the manifest. `push` copies what it is
 * given, so the caller may reuse its buffer.
 */
export class AgeEncryptor {
  private readonly key: Buffer;
  private readonly pending = Buffer.allocUnsafe(CHUNK_SIZE);
  private filled = 0;
  private counter = 0;
  private started = false;
  private done = false;
  private readonly crc = new Crc32c();
  private bytes = 0;

  private constructor(
    readonly recipients: readonly string[],
    private readonly header: Buffer,
    private readonly nonce: Buffer,
    fileKey: Buffer,
  ) {
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

  /** Ciphertext for `chunk`: whole sealed chunks, each as its body and its 16-byte tag. */
  push(chunk: Uint8Array): Buffer[] {
    if (this.done) throw new Error('AgeEncryptor: push after finish');
    const out = this.start();
    this.crc.update(chunk);
    this.bytes += chunk.length;
    for (let at = 0; at < chunk.length; ) {
      // A full chunk is sealed only when more data follows: the last chunk carries the last flag.
      if (this.filled === CHUNK_SIZE) {
        out.push(...seal(this.key, this.counter++, false, this.pending));
        this.filled = 0;
      }
      const n = Math.min(CHUNK_SIZE - this.filled, chunk.length - at);
      this.pending.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
    }
    return out;
  }

  finish(): Buffer[] {
    if (this.done) return [];
    const out = this.start();
    out.push(...seal(this.key, this.counter++, true, this.pending.subarray(0, this.filled)));
    this.done = true;
    this.key.fill(0);
    return out;
  }

  record(): EncryptionRecord {
    return { format: AGE_FORMAT, recipients: [...this.recipients], plaintextSize: this.bytes, plaintextCrc32c: this.crc.hex() };
  }

  private start(): Buffer[] {
    if (this.started) return [];
    this.started = true;
    return [this.header, this.nonce];
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

/**
 * Decrypts one age stream: push ciphertext, get plaintext, then `finish()`. Only authenticated
 * bytes come out; a stream cut short (even at a chunk boundary), reordered or altered throws a
 * DecryptError, as does a header no identity opens.
 */
export class AgeDecryptor {
  /** The header (and nonce) as it arrives, until the file key is known. */
  private head: Buffer = Buffer.alloc(0);
  /** The sealed chunk being collected: its last flag is known only once a byte past it arrives. */
  private readonly held = Buffer.allocUnsafe(SEALED_CHUNK);
  private heldBytes = 0;
  private key: Buffer | undefined;
  private counter = 0;
  private bytes = 0;
  private readonly crc = new Crc32c();
  private done = false;

  constructor(private readonly options: DecryptOptions) {}

  get plaintextBytes(): number {
    return this.bytes;
  }

  get plaintextCrc32c(): string {
    return this.crc.hex();
  }

  /** Plaintext of the chunks `chunk` completes; `chunk` is not kept (the caller may reuse it). */
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
      if (this.heldBytes === SEALED_CHUNK) {
        out.push(this.openChunk(this.held, false));
        this.heldBytes = 0;
      }
      if (this.heldBytes === 0 && data.length - at > SEALED_CHUNK) {
        // A whole chunk in the input with more after it: opened in place, not copied.
        out.push(this.openChunk(data.subarray(at, at + SEALED_CHUNK), false));
        at += SEALED_CHUNK;
        continue;
      }
      const n = Math.min(SEALED_CHUNK - this.heldBytes, data.length - at);
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

  finish(): Buffer[] {
    if (this.done) return [];
    this.done = true;
    if (!this.key) throw this.damaged(this.head.length === 0 ? 'the stream is empty' : 'the stream ends inside its header');
    if (this.heldBytes < TAG_SIZE) throw this.damaged('the stream is cut short (it ends inside a chunk)');
    const last = this.openChunk(this.held.subarray(0, this.heldBytes), true);
    if (last.length === 0 && this.counter > 1) throw this.damaged('the last chunk is empty after others (not a valid age stream)');
    this.key.fill(0);
    return [last];
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

  private openChunk(sealed: Buffer, last: boolean): Buffer {
    const plain = open(this.key!, this.counter, last, sealed);
    if (!plain) {
      throw this.damaged(
        last
          ? `chunk ${this.counter} does not authenticate as the last chunk: the stream is cut short, or damaged`
          : `chunk ${this.counter} does not authenticate: the stream is damaged or its chunks are out of order`,
      );
    }
    this.counter++;
    this.bytes += plain.length;
    this.crc.update(plain);
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

/** A Transform that encrypts what goes through it (put, run/serve files, snapshot archives). */
export function encryptTransform(encryptor: AgeEncryptor): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      try {
        for (const b of encryptor.push(chunk)) this.push(b);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        for (const b of encryptor.finish()) this.push(b);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
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
      try {
        for (const b of d.finish()) this.push(b);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}
