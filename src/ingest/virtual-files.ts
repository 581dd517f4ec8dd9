import { constants as fsConstants } from 'node:fs';
import { constants } from 'node:os';
import type { EncryptionRecord } from '../crypto/age-stream.js';
import type { ManifestFileInput } from '../manifest/manifest.js';
import { DisklessError, VerificationError, describeError } from '../errors.js';
import type { ObjectStore, WriteSettings } from '../upload/object-store.js';
import type { ObjectSummary } from '../upload/multipart-object.js';
import { withRetry, type RetryPolicy } from '../upload/retry.js';
import type { StreamUploadResult } from '../upload/stream-uploader.js';
import type { Logger } from '../util/log.js';
import { WRITER_METADATA, deleteOwnObject, deleteStoredStream } from '../upload/owned-object.js';
import { MAX_SINGLE_COPY, copyInParts } from '../upload/multipart-copy.js';
import { objectKey } from './object-key.js';

const { ENOENT, EPERM, EBUSY, EEXIST, EIO, EOPNOTSUPP } = constants.errno;
const { O_APPEND, O_CREAT, O_EXCL, O_RDWR, O_TRUNC } = fsConstants;
/** Linux's access-mode mask (not exported by Node). */
const O_ACCMODE = 3;


/** Something the program did that diskless cannot store (reported by the shim's FAIL): the run fails as a producer failure (exit 5). */
export class RefusedOperation extends DisklessError {
  constructor(message: string) {
    super('producer', message, { errno: constants.errno.EPERM });
  }
}

/** An operation on a virtual file that fails with an errno (the shim returns it to the program). */
export class FileOpError extends DisklessError {
  constructor(message: string, errno: number, cause?: unknown) {
    super('upload', message, { errno, ...(cause === undefined ? {} : { cause }) });
  }
}

export type FileState = 'writing' | 'committed' | 'failed';

export interface VirtualFile {
  /** Current path, relative to the virtual directory. */
  path: string;
  key: string;
  state: FileState;
  /** Bytes received so far; the final size once committed. */
  bytes: number;
  mtimeMs: number;
  /** The stored objects once committed (more than one for a chain). */
  objects?: ObjectSummary[];
  crc32c?: string;
  /** Set when the file was stored age-encrypted: `bytes` and `crc32c` are the object's, stat shows the plaintext's size. */
  encryption?: EncryptionRecord;
  error?: unknown;
  /** Resolves when writing ends, committed or not. */
  settled: Promise<void>;
  /** While writing: the bytes read from the program's socket so far (exact, unlike `bytes`). */
  received?: () => number;
  /** While writing: every holder of the program's end has closed it (its bytes may still be unread). */
  writersGone?: () => boolean;
  /**
   * At the end of the file's bytes: whether the shim ended it by shutting its write side down while still holding the
   * connection, its clean end of a descriptor it certainly held the last reference to (wire.def: HANDLE and END).
   */
  endedByShutdown?: () => boolean;
  /** How the last clean end (wire.def: END) before the file's end came: close, exit, exec, replaced. */
  ended?: FileEnding;
  /** Stored with one PutObject not yet checked with HeadObject: verifyListed checks it before the manifest. */
  checkLater?: boolean;
}

export type FileEnding = 'close' | 'exit' | 'exec' | 'replaced';

/** A stored file as the manifest records it: what the manifest lists, and what a read-back reads. */
export function manifestInputOf(f: VirtualFile): ManifestFileInput {
  return {
    path: f.path,
    key: f.key,
    size: f.bytes,
    crc32c: f.crc32c ?? '',
    objects: f.objects ?? [],
    end: f.ended === undefined || f.ended === 'close' ? 'closed' : f.ended,
    ...(f.encryption ? { encryption: f.encryption } : {}),
  };
}
const ENDINGS: Record<number, FileEnding> = { 1: 'close', 2: 'exit', 3: 'exec', 4: 'replaced' };

/** The last writer of a file ended without a clean end (killed, crashed): the file is not stored and the run fails (exit 5). */
export class DeadWriterError extends DisklessError {
  constructor(readonly path: string, bytes: number) {
    super(
      'producer',
      `the program writing it ended without closing it (killed or crashed?) after ${bytes} bytes; the file may be truncated, so it is not stored`,
      { errno: constants.errno.EIO },
    );
  }
}

interface Entry extends VirtualFile {
  settle: () => void;
  unlinkWhenDone: boolean;
  /** Every holder closed it: only the upload's end (CompleteMultipartUpload) is still to come. */
  inputEnded?: boolean;
  /** received() at the last END (wire.def), if any. */
  cleanAt?: number;
  /** The shim gave this file up and said why (FAIL): its connection then ends without END, and that is no dead writer. */
  refused?: RefusedOperation;
  handle?: bigint;
}

/**
 * The uploader's view of the virtual directory: which files exist (being written, or stored), under
 * which key, and what open, rename, unlink and stat do to them (docs/SEMANTICS.md).
 */
export class VirtualFiles {
  private readonly byPath = new Map<string, Entry>();
  private readonly all = new Set<Entry>();
  private writingNow = 0;
  private readonly handles = new Map<bigint, Entry>();
  private nextHandle = 1n;
  private writingPeak = 0;

  constructor(
    private readonly deps: {
      store: ObjectStore;
      bucket: string;
      prefix: string;
      settings: WriteSettings;
      retry: RetryPolicy;
      log: Logger;
      /** Paths the program may not write (the manifest's name). */
      reserved?: readonly string[];
      /** A rename of a file larger than this copies it part by part (UploadPartCopy); default 5 GiB, S3's CopyObject limit. */
      singleCopyLimit?: number;
      /** Part size of such a copy (default 1 GiB). */
      copyPartSize?: number;
    },
  ) {}

  /**
   * Starts a new file at `path`, or fails with the errno the open should return. A file whose
   * every descriptor is closed but whose upload is still ending (an overwrite right after close) is
   * waited for, then replaced; one still open elsewhere is EBUSY.
   */
  async openForWrite(path: Buffer | string, flags: number): Promise<VirtualFile> {
    const rel = objectKey(this.deps.prefix, path).slice(this.deps.prefix.length);
    const existing = this.byPath.get(rel);
    if (existing?.state === 'writing' && existing.inputEnded) await existing.settled;
    return this.beginWrite(path, flags);
  }

  /**
   * The file's writers all closed it (end of its bytes). Throws DeadWriterError unless it ended cleanly: an END came
   * after its last byte, or the shim shut the connection's write side down and still held it (wire.def).
   */
  inputEnded(file: VirtualFile): void {
    const e = file as Entry;
    e.inputEnded = true;
    if (e.handle !== undefined) this.handles.delete(e.handle);
    const total = e.received?.() ?? e.bytes;
    if (e.refused) throw e.refused;
    if (e.handle === undefined || e.cleanAt === total) return;
    if (!e.endedByShutdown?.()) throw new DeadWriterError(e.path, total);
    e.ended = 'close';
  }

  /** The id the shim's holders of this file name it by in END (wire.def: HANDLE). */
  handleFor(file: VirtualFile): bigint {
    const e = file as Entry;
    const id = this.nextHandle++;
    e.handle = id;
    this.handles.set(id, e);
    return id;
  }

  /** A holder's clean end (wire.def: END): every byte received so far was written before it. */
  markEnd(id: bigint, how: number): void {
    const e = this.handles.get(id);
    if (!e) throw new FileOpError(`no file with handle ${id} is being written`, ENOENT);
    e.cleanAt = e.received?.() ?? e.bytes;
    e.ended = ENDINGS[how] ?? 'close';
  }

  /**
   * A refusal the shim reported (FAIL: a symlink, a hard link, a static program's exec, a
   * random-access file past its limit): recorded as a failed file, so the run fails, naming it.
   * A file of that path still being written is the one the shim gave up (a random-access file it
   * cannot finish): it fails with this refusal, not as a second failure of a dead writer.
   */
  refusal(path: string, message: string): VirtualFile {
    const entry: Entry = {
      path,
      key: '',
      state: 'failed',
      bytes: 0,
      mtimeMs: Date.now(),
      settled: Promise.resolve(),
      settle: () => {},
      unlinkWhenDone: false,
      error: new RefusedOperation(message),
    };
    this.all.add(entry);
    const writing = this.byPath.get(path);
    if (writing?.state === 'writing') writing.refused = entry.error as RefusedOperation;
    return entry;
  }

  /** Starts a new file at `path` now, or fails with the errno the open should return. */
  beginWrite(path: Buffer | string, flags: number): VirtualFile {
    const key = objectKey(this.deps.prefix, path);
    const rel = key.slice(this.deps.prefix.length);
    if (this.deps.reserved?.includes(rel)) throw new FileOpError(`${rel} is reserved for diskless's manifest`, EPERM);
    const existing = this.byPath.get(rel);
    if (existing && (flags & O_ACCMODE) === O_RDWR && !(flags & O_TRUNC) && !(flags & O_EXCL)) {
      throw new FileOpError(`${rel}: a stored file cannot be modified in place (opened O_RDWR without O_TRUNC); write a new file`, EPERM);
    }
    if (!existing && !(flags & O_CREAT)) throw new FileOpError(`${rel}: no such virtual file (opened without O_CREAT)`, ENOENT);
    // EEXIST first: O_EXCL asks whether the name exists (lock files, mkstemp's retry), being written or not.
    if (existing && flags & O_EXCL) throw new FileOpError(`${rel} exists (O_EXCL)`, EEXIST);
    if (existing?.state === 'writing') throw new FileOpError(`${rel} is already being written by another open`, EBUSY);
    if (existing && flags & O_APPEND) {
      throw new FileOpError(`${rel}: appending to a stored object is impossible in S3; write a new file instead`, EPERM);
    }
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    const entry: Entry = { path: rel, key, state: 'writing', bytes: 0, mtimeMs: Date.now(), settled, settle, unlinkWhenDone: false };
    if (existing) this.all.delete(existing);
    this.byPath.set(rel, entry);
    this.all.add(entry);
    this.writingNow++;
    this.writingPeak = Math.max(this.writingPeak, this.writingNow);
    return entry;
  }

  progress(file: VirtualFile, bytes: number): void {
    file.bytes = bytes;
    file.mtimeMs = Date.now();
  }

  async committed(file: VirtualFile, result: StreamUploadResult, encryption?: EncryptionRecord): Promise<void> {
    const entry = file as Entry;
    Object.assign(entry, { state: 'committed', bytes: result.size, objects: result.objects, crc32c: result.crc32c, mtimeMs: Date.now(), checkLater: result.checkLater === true, ...(encryption ? { encryption } : {}) });
    this.writingNow--;
    entry.settle();
    if (entry.unlinkWhenDone) await this.deleteObjects(entry).catch((err) => this.deps.log.warn(`unlink of ${entry.path}: ${describeError(err)}`));
  }

  failed(file: VirtualFile, error: unknown): void {
    const entry = file as Entry;
    Object.assign(entry, { state: 'failed', error });
    this.writingNow--;
    if (this.byPath.get(entry.path) === entry) this.byPath.delete(entry.path);
    // Already among the failures as the refusal that ended it.
    if (entry.refused) this.all.delete(entry);
    entry.settle();
  }

  /**
   * The stored file at `path`, to read back (READ_OPEN): a file whose every descriptor is closed but whose upload
   * is still ending (its last bytes may still be on their way: `writersGone`) is waited for. Fails with ENOENT (no such file), EBUSY (still being written) or EIO (its upload
   * failed).
   */
  async storedForRead(path: string): Promise<VirtualFile> {
    const e = this.byPath.get(path);
    if (!e) throw new FileOpError(`${path}: no such virtual file`, ENOENT);
    if (e.state === 'writing' && !e.inputEnded && !e.writersGone?.()) {
      throw new FileOpError(
        `${path} is still being written: it can be read back once every descriptor of it is closed (until then a read-only open gets a descriptor whose reads fail with EISDIR)`,
        EBUSY,
      );
    }
    await e.settled;
    if (e.state !== 'committed' || !e.objects) throw new FileOpError(`${path} was not stored (${describeError(e.error)}), so it cannot be read back`, EIO);
    return e;
  }

  stat(path: string): { size: number; mtimeMs: number } {
    const e = this.byPath.get(path);
    if (!e) throw new FileOpError(`${path}: no such virtual file`, ENOENT);
    // The program sees the size it wrote: the plaintext's, also for a file stored encrypted.
    return { size: e.state === 'writing' && e.received ? e.received() : (e.encryption?.plaintextSize ?? e.bytes), mtimeMs: e.mtimeMs };
  }

  /**
   * fsync(2) of a reopened file (wire.def: SYNC): waits until a file every writer has closed is
   * stored, and fails with its errno if it was not. A file still open returns at once (its close
   * reports its fate; waiting could deadlock a program that syncs before it closes).
   */
  async sync(path: string): Promise<void> {
    const e = this.byPath.get(path) ?? [...this.all].reverse().find((f) => f.path === path && f.state === 'failed');
    if (!e) throw new FileOpError(`${path}: no such virtual file`, ENOENT);
    if (e.state === 'writing' && !e.inputEnded) return;
    await e.settled;
    if (e.state === 'failed') {
      throw new FileOpError(`${path} was not stored: ${describeError(e.error)}`, DisklessError.is(e.error) ? e.error.errno : EIO, e.error);
    }
  }

  /** rename(2): waits until the source is stored, then copies it server-side and deletes the old key. */
  async rename(from: string, to: string): Promise<void> {
    const src = this.byPath.get(from);
    if (!src) throw new FileOpError(`${from}: no such virtual file`, ENOENT);
    const toKey = objectKey(this.deps.prefix, to);
    if (this.deps.reserved?.includes(to)) throw new FileOpError(`${to} is reserved for diskless's manifest`, EPERM);
    if (from === to) return;
    if (this.byPath.get(to)?.state === 'writing') throw new FileOpError(`${to} is being written`, EBUSY);
    await src.settled;
    if (src.state !== 'committed' || !src.objects) throw new FileOpError(`${from} was not stored: ${describeError(src.error)}`, EIO);
    if (src.objects.length > 1) {
      throw new FileOpError(`renaming ${from}: a file stored as a chain of objects cannot be renamed yet`, EOPNOTSUPP);
    }
    const { bucket, store, retry } = this.deps;
    let etag = '';
    let partSizes = [src.bytes];
    let parts = 1;
    const writer = src.objects[0]!.writer;
    if (src.bytes > (this.deps.singleCopyLimit ?? MAX_SINGLE_COPY)) {
      // A multipart copy is a new upload: it gets the writer id itself (CopyObject keeps the source's metadata).
      const settings = { ...this.deps.settings, metadata: { ...this.deps.settings.metadata, [WRITER_METADATA]: writer } };
      ({ parts, partSizes } = await copyInParts(this.deps, { bucket, key: src.key }, { bucket, key: toKey }, src.bytes, settings, this.deps.copyPartSize ?? 1024 ** 3));
    } else {
      ({ etag } = await withRetry(() => store.copyObject({ bucket, key: src.key }, { bucket, key: toKey }, this.deps.settings), retry, {
        what: `CopyObject ${src.key} to ${toKey}`,
      }));
    }
    const head = await store.headObject({ bucket, key: toKey });
    if (!head || head.size !== src.bytes) throw new FileOpError(`renaming ${from}: the copy at ${toKey} does not have ${src.bytes} bytes`, EIO);
    await deleteOwnObject(this.deps, { bucket, key: src.key, writer, ...(src.objects[0]!.etag ? { etag: src.objects[0]!.etag } : {}) });
    const previous = this.byPath.get(to);
    if (previous) this.all.delete(previous);
    this.byPath.delete(from);
    src.path = to;
    src.key = toKey;
    src.objects = [{ bucket, key: toKey, size: src.bytes, etag: head.etag || etag, parts, partSizes, crc32c: src.crc32c!, writer }];
    src.checkLater = false; // the copy was checked with HeadObject above
    this.byPath.set(to, src);
  }

  /**
   * rename(2) of a real directory under the virtual directory: every virtual file below `from/`
   * moves below `to/`, one rename (server-side copy, then delete) each. A failure leaves the
   * files renamed so far at their new names (the shim then reports the error).
   */
  async renameDir(from: string, to: string): Promise<void> {
    const below = [...this.byPath.keys()].filter((p) => p.startsWith(from + '/'));
    for (const path of below) await this.rename(path, to + path.slice(from.length));
  }

  /** unlink(2): deletes the stored object, or the object-to-be once its writer finishes. */
  async unlink(path: string): Promise<void> {
    const e = this.byPath.get(path);
    if (!e) throw new FileOpError(`${path}: no such virtual file`, ENOENT);
    this.byPath.delete(path);
    this.all.delete(e);
    if (e.state === 'writing') {
      e.unlinkWhenDone = true;
      return;
    }
    await this.deleteObjects(e);
  }

  /** Files being written now. */
  get writing(): number {
    return this.writingNow;
  }

  /** Most files that were being written at the same time. */
  get peakWriting(): number {
    return this.writingPeak;
  }

  /** Every file that exists now (for the manifest), in path order. */
  list(): VirtualFile[] {
    return [...this.byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Files still held open by a writer (their bytes are still coming), in path order. */
  stillOpen(): VirtualFile[] {
    return this.list().filter((e) => e.state === 'writing' && !(e as Entry).inputEnded);
  }

  /**
   * Checks every file stored with one PutObject and not checked since (checkLater) against one
   * listing of the prefix (ListObjectsV2: 1,000 objects per request, where a HeadObject each would
   * cost a request per file): the key must hold the size and ETag (the MD5) this run stored. Any
   * other object there (another writer replaced it since), or none, is a VerificationError naming
   * the files: the run then fails and writes no manifest. Run before the manifest.
   */
  async verifyListed(): Promise<void> {
    const pending = [...this.byPath.values()].filter((e) => e.state === 'committed' && e.checkLater && e.objects?.length === 1);
    if (pending.length === 0) return;
    const { store, bucket, prefix, retry } = this.deps;
    const listed = new Map((await withRetry(() => store.listObjects(bucket, prefix), retry, { what: `ListObjectsV2 of ${prefix}` })).map((o) => [o.key, o]));
    const problems: string[] = [];
    for (const e of pending) {
      const mine = e.objects![0]!;
      const found = listed.get(mine.key);
      if (!found) problems.push(`${e.path}: no object at ${mine.key}`);
      else if (found.size !== mine.size || found.etag !== mine.etag) {
        problems.push(`${e.path}: ${mine.key} holds ${found.size} bytes with ETag ${found.etag}, this run stored ${mine.size} bytes with ETag ${mine.etag} (another writer replaced it)`);
      } else e.checkLater = false;
    }
    if (problems.length > 0) {
      throw new VerificationError(
        `verification before the manifest failed for ${problems.length} file(s): ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}`,
      );
    }
  }

  /** Files whose upload failed (their errors explain a failed run). */
  failures(): VirtualFile[] {
    return [...this.all].filter((e) => e.state === 'failed');
  }

  /** Resolves when no file is being written. */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.all].filter((e) => e.state === 'writing');
      if (pending.length === 0) return;
      await Promise.all(pending.map((e) => e.settled));
    }
  }

  private async deleteObjects(e: Entry): Promise<void> {
    await deleteStoredStream(this.deps, e.objects ?? []);
  }
}
