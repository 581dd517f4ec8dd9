import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { checkRecipients, type Identity } from '../crypto/recipients.js';
import { BackupVerifyError, DisklessError, UploadError, UsageError, describeError } from '../errors.js';
import type { BackupTree } from '../ingest/backup-tree.js';
import type { CloseWhen } from '../ingest/file-session.js';
import { DEFAULT_READ_REQUESTS, IngestServer } from '../ingest/ingest-server.js';
import { describeReadFailures, recordFailures, type ReadFailure } from '../ingest/read-back.js';
import { normalisePrefix } from '../ingest/object-key.js';
import { VirtualFiles, manifestInputOf, type VirtualFile } from '../ingest/virtual-files.js';
import { MANIFEST_NAME, buildManifest, type Manifest } from '../manifest/manifest.js';
import { storeJson } from '../manifest/store-manifest.js';
import { preloadEnv, type PreloadSettings } from '../native/preload-env.js';
import { shimPath } from '../native/shim-path.js';
import { formatS3Url, parseS3Url, type S3Location } from '../s3/s3-url.js';
import type { UploadContext } from '../upload/upload-context.js';
import { Limiter } from '../util/limiter.js';
import { formatBytes } from '../util/size.js';
import { deleteStoredStream, type OwnedRef } from '../upload/owned-object.js';
import { backupReads, openBackupTree, type BackupReads } from './backup-source.js';
import { recordedFiles, refuseExistingBackup } from './existing-backup.js';
import { expandUrlTemplate } from './key-template.js';
import { sendBufferNote } from '../native/socket-buffer.js';
import { openSession, type Session } from './session.js';
import { planUpload, prepareUpload, type UploadOptions } from './upload-setup.js';

/** With --overwrite over an existing backup, the new run's files go under PREFIX/diskless-overwrite-<id>/. */

/**
 * The send buffer of each written file's connection: 1 MiB gave 1.10× the throughput of the kernel's 208 KiB for a
 * writer of 4 KiB blocks, 4 MiB 1.17×, but Linux lets about twice the size queue, per file being written, in kernel
 * memory outside --memory (docs/BENCHMARKS.md, "A larger send buffer for each written file"): 1 MiB keeps that near
 * the 1 MiB pipe `put` reads its producer from.
 */
export const DEFAULT_SOCKET_BUFFER = 1024 * 1024;

export const OVERWRITE_DIR_PREFIX = 'diskless-overwrite-';

export interface CaptureOptions extends UploadOptions {
  /** `s3://bucket/prefix/`: each file becomes `prefix/<path relative to dir>`. */
  to: string;
  /** The virtual directory: empty or absent; files written under it go to S3. */
  dir: string;
  /** Keep the objects of a failed run (default: delete them; without a manifest they are no backup). */
  keepFailed?: boolean;
  /** Shim log level (DISKLESS_SHIM_LOG). */
  shimLogLevel?: number;
  /** Largest random-access (O_RDWR) file, held in memory until its close (default 64 MiB). */
  randomAccessLimit?: number;
  /**
   * Send buffer (SO_SNDBUF) of each written file's connection: how far the program may write ahead of diskless's
   * reads, in kernel memory, per file being written (default DEFAULT_SOCKET_BUFFER; 0: the kernel's default; the
   * kernel caps it at net.core.wmem_max).
   */
  socketBuffer?: number;
  /** Encrypt every file with age for these recipients (age1…), each file its own age stream. */
  encryptTo?: readonly string[];
  /**
   * `run --from URL --to …`: the stored backup at URL is shown under the directory beside what the program writes:
   * its files are readable and read-only (EROFS); the new backup holds only what the program writes. Its prefix and
   * the new one must not overlap.
   */
  from?: string;
  /** age identities for an encrypted --from backup: its files are decrypted as the command reads them. */
  identities?: readonly Identity[];
  /** When the program's close() returns: once the object is stored (default), or once its bytes are received. */
  closeWhen?: CloseWhen;
}

export interface CaptureResult {
  bucket: string;
  prefix: string;
  manifestKey: string;
  manifest: Manifest;
  elapsedMs: number;
}

/**
 * What `run` and `serve` share: the checked target, the virtual directory, the ingest socket the
 * shim talks to, the registry of files, and the end of a capture: a manifest written last when
 * everything succeeded, or the removal of what a failed capture stored.
 */
export class Capture {
  readonly startedAt = new Date();
  private firstFailureSeen: { file: VirtualFile; error: unknown } | undefined;
  /** Aborts the uploads still running: stragglers past --linger, or the end of the capture. */
  private readonly stopUploads: AbortController;
  private failureListeners: Array<(f: { file: VirtualFile; error: unknown }) => void> = [];
  /** Stored files (read back, or of the --from backup) whose bytes did not check out when the program read them. */
  private readonly readFailures: ReadFailure[];

  private constructor(
    readonly options: CaptureOptions,
    readonly session: Session,
    readonly ctx: UploadContext,
    readonly files: VirtualFiles,
    readonly server: IngestServer,
    readonly bucket: string,
    readonly prefix: string,
    readonly dir: string,
    readonly preload: PreloadSettings,
    stopUploads: AbortController,
    /** With --overwrite: the files of the backup this one replaces, removed once it is committed. */
    private readonly replacedFiles: OwnedRef[][],
    readFailures: ReadFailure[],
    /** With --from: the backup shown under the directory (its placeholders go before the end-of-run scan). */
    private readonly backup?: { tree: BackupTree; url: string },
    /** With --from: how its files are read, and which the command opened without reading them whole. */
    private readonly reads?: BackupReads,
  ) {
    this.stopUploads = stopUploads;
    this.readFailures = readFailures;
  }

  static async open(options: CaptureOptions): Promise<Capture> {
    const loc = parseS3Url(expandUrlTemplate(options.to), '--to');
    const prefix = normalisePrefix(loc.key);
    if (options.from !== undefined) refuseOverlap(parseS3Url(options.from, '--from'), { bucket: loc.bucket, key: prefix });
    const planned = planUpload(options);
    const recipients = options.encryptTo?.length ? checkRecipients(options.encryptTo, (r) => `recipient ${r}`) : undefined;
    const shim = shimPath();
    const session = await openSession(options, planned.concurrency + 2 + DEFAULT_READ_REQUESTS);
    try {
      const { store, retry, log } = session;
      const ctx = await prepareUpload(session, options, planned, { bucket: loc.bucket, key: prefix + MANIFEST_NAME });
      const replaced = await refuseExistingBackup(session, { bucket: loc.bucket, prefix }, options.overwrite ?? false);
      // Replacing a backup: the new files go beside the old ones, so the old backup stays whole until the new manifest replaces its manifest.
      const filePrefix = replaced ? `${prefix}${OVERWRITE_DIR_PREFIX}${randomBytes(4).toString('hex')}/` : prefix;
      const previous = replaced ? await recordedFiles(session, replaced) : [];
      if (replaced) log.info(`${formatS3Url(replaced)} exists (--overwrite): this run's files go under ${formatS3Url({ bucket: loc.bucket, key: filePrefix })} until its manifest replaces the old one`);
      const plan = planned.plan;
      const stopUploads = new AbortController();
      const signal = options.signal ? AbortSignal.any([options.signal, stopUploads.signal]) : stopUploads.signal;
      const backup = options.from !== undefined ? await openBackupTree(session, options.from, signal, options.identities) : undefined;
      const dir = prepareDir(options.dir, backup ? 'where it shows the files of the backup beside those the program writes' : undefined);
      backup?.tree.materialise(dir);
      const settings = options.settings ?? {};
      const files = new VirtualFiles({ store, bucket: loc.bucket, prefix: filePrefix, settings, retry, log, reserved: [MANIFEST_NAME] });
      const token = randomBytes(32).toString('hex');
      let capture: Capture | undefined;
      const readFailures: ReadFailure[] = [];
      // One budget of GETs for every read: the --from backup's and the read-backs of this run's files.
      const requests = new Limiter(DEFAULT_READ_REQUESTS);
      const reads = backup ? backupReads(backup, session, requests, ctx.budget, signal, readFailures) : undefined;
      const server = await IngestServer.listen({
        files,
        ctx,
        plan,
        bucket: loc.bucket,
        settings,
        // `run` aborts every upload on SIGINT/SIGTERM (options.signal); `serve` does not pass it: its files may finish.
        signal,
        token,
        ...(recipients ? { recipients } : {}),
        ...(options.closeWhen ? { closeWhen: options.closeWhen } : {}),
        onFailure: (file, error) => capture?.noteFailure(file, error),
        readBack: { requests, onFailure: recordFailures(loc.bucket, readFailures) },
        ...(reads ? { reads } : {}),
      });
      // Shim errors (a refused open, a seek on a streamed file) go to the program's stderr by default.
      const preload: PreloadSettings = {
        shim,
        socket: server.socketPath,
        readSocket: server.readSocketPath,
        dir,
        token,
        standin: server.standinDir,
        randomAccessLimit: options.randomAccessLimit ?? 64 * 1024 * 1024,
        socketBuffer: options.socketBuffer ?? DEFAULT_SOCKET_BUFFER,
        logLevel: options.shimLogLevel ?? 1,
        ...(backup ? { read: 'beside' as const } : {}),
      };
      const capped = sendBufferNote(preload.socketBuffer ?? 0);
      if (capped) log.debug(capped);
      if (backup) log.info(`${backup.url}: ${backup.tree.files} file(s) shown under ${dir} (read-only), beside the files the command writes`);
      capture = new Capture(options, session, ctx, files, server, loc.bucket, prefix, dir, preload, stopUploads, previous, readFailures, backup, reads);
      return capture;
    } catch (err) {
      session.close();
      throw err;
    }
  }

  /** The environment of a program whose files under the directory go to S3. */
  env(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    return preloadEnv(base, this.preload);
  }

  /** Calls `listener` once, on the first file that fails (now if one already did). */
  onFirstFailure(listener: (f: { file: VirtualFile; error: unknown }) => void): void {
    if (this.firstFailureSeen) listener(this.firstFailureSeen);
    else this.failureListeners.push(listener);
  }

  /** No new file from now on: opens under the directory fail (the shim cannot reach the uploader). */
  stopAccepting(): void {
    this.server.stopAccepting();
  }

  /**
   * Fails the files still being written (past --linger): their uploads are aborted (nothing of them
   * is committed), and waits at most 10 s for that to settle.
   */
  async failOpen(reason: Error): Promise<void> {
    this.stopUploads.abort(reason);
    await this.settle(10_000);
  }

  /**
   * Waits until no file is being written, at most `lingerMs` for files still held open; returns the
   * paths still open then. Files every writer has closed are waited for to the end of their upload
   * (bounded by the retry deadlines): with --close received, many may still be uploading when the
   * command exits, and none of them is a straggler.
   */
  async settle(lingerMs: number): Promise<string[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), lingerMs)));
    const outcome = await Promise.race([this.files.idle().then(() => 'idle' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'idle') return [];
    const open = this.files.stillOpen().map((f) => f.path);
    if (open.length === 0) await this.files.idle();
    return open;
  }

  /** The failures that explain a failed capture, as one message. */
  failureSummary(): string | undefined {
    const failed = this.files.failures();
    if (failed.length === 0) return undefined;
    const shown = failed.slice(0, 5).map((f) => `${f.path}: ${describeError(f.error)}`);
    return `${failed.length} file(s) could not be stored: ${shown.join('; ')}${failed.length > 5 ? '; …' : ''}`;
  }

  /** True if a failure is the program's doing (a refusal the shim reported), not the store's. */
  failedByProgram(): boolean {
    return this.files.failures().some((f) => DisklessError.is(f.error) && f.error.category === 'producer');
  }

  /** The command failed: the --from files it opened but did not read whole are read whole and checked (UncheckedReads). */
  async checkUnreadAfterFailure(): Promise<void> {
    if (this.reads && this.backup) await this.reads.unchecked.check(this.reads, this.backup.url);
  }

  /**
   * The stored files the program could not read whole (their bytes did not check out, or could not be fetched), as
   * the error that fails the capture (exit 6, naming them): what the program wrote may rest on damaged data.
   */
  readFailure(): BackupVerifyError | undefined {
    if (this.readFailures.length === 0) return undefined;
    return new BackupVerifyError(
      `${this.readFailures.length} stored file(s) could not be read whole by the command: ${describeReadFailures(this.readFailures)}; ` +
        'what it wrote may rest on damaged or partial data; no manifest written',
    );
  }

  /** With --from: removes the backup's placeholders (before the end-of-run scan of the directory, which would name them). */
  removeBackupTree(): void {
    const left = this.backup?.tree.remove(this.dir);
    if (left?.length) this.ctx.log.debug(`left under ${this.dir}: ${left.slice(0, 5).join(', ')}`);
  }

  /** Writes the manifest, last: the capture becomes a backup. */
  async commit(meta: { mode: 'run' | 'serve'; command: string[] | null; exitStatus: number | null }): Promise<CaptureResult> {
    // Small files were stored without a HeadObject each: one listing checks them all before they become a backup.
    await this.files.verifyListed();
    const manifest = buildManifest({
      kind: meta.mode,
      command: meta.command,
      exitStatus: meta.exitStatus,
      startedAt: this.startedAt,
      bucket: this.bucket,
      prefix: this.prefix,
      files: this.files.list().map(manifestInputOf),
      ...(this.options.settings ? { settings: this.options.settings } : {}),
      maxInFlight: this.files.peakWriting,
    });
    const key = this.prefix + MANIFEST_NAME;
    await storeJson(this.ctx, { bucket: this.bucket, key }, manifest, this.options.settings);
    await this.removeReplaced(manifest);
    this.ctx.log.info(
      `stored ${manifest.totals.files} file(s) (at most ${manifest.totals.maxInFlight} at once), ${formatBytes(manifest.totals.bytes)} ` +
        `(${manifest.totals.bytes} bytes), and the manifest ${formatS3Url({ bucket: this.bucket, key })} ` +
        `in ${((Date.now() - this.startedAt.getTime()) / 1000).toFixed(1)} s`,
    );
    return { bucket: this.bucket, prefix: this.prefix, manifestKey: key, manifest, elapsedMs: Date.now() - this.startedAt.getTime() };
  }

  /** After --overwrite committed: the replaced backup's files that are still what its manifest recorded go. */
  private async removeReplaced(manifest: Manifest): Promise<void> {
    if (this.replacedFiles.length === 0) return;
    const current = new Set(manifest.files.flatMap((f) => [f.key, ...(f.chain ?? []).map((o) => o.key)]));
    let removed = 0;
    for (const objects of this.replacedFiles) {
      if (objects.some((o) => current.has(o.key))) continue;
      await deleteStoredStream(this.session, objects).then(
        () => removed++,
        () => undefined,
      );
    }
    this.ctx.log.info(`removed the ${removed} file(s) of the backup this one replaced`);
  }

  /** A failed capture: no manifest; what was stored is deleted unless --keep-failed. */
  async discard(): Promise<void> {
    const stored = this.files.list().filter((f) => f.state === 'committed');
    if (this.options.keepFailed || stored.length === 0) return;
    for (const f of stored) {
      await this.files.unlink(f.path).catch((err) => this.ctx.log.warn(`could not delete ${f.key}: ${describeError(err)}`));
    }
    this.ctx.log.info(`deleted the ${stored.length} object(s) of the failed run (keep them with --keep-failed)`);
  }

  async close(): Promise<void> {
    // Whatever still runs is not going to be committed: abort it, then end every connection.
    this.stopUploads.abort(new UploadError('the capture ended'));
    await this.server.close();
    this.removeBackupTree();
    this.session.close();
  }

  private noteFailure(file: VirtualFile, error: unknown): void {
    if (this.firstFailureSeen) return;
    this.firstFailureSeen = { file, error };
    for (const l of this.failureListeners.splice(0)) l(this.firstFailureSeen);
  }
}

/**
 * `--from` with `--to`: the new backup's prefix must not be the one read, nor lie inside it or around it, or a file
 * the program writes could replace an object of the backup it reads (`--to s3://B/p/ --from s3://B/p/old/`: writing
 * `old/x` would be the key `p/old/x`).
 */
function refuseOverlap(from: S3Location, to: S3Location): void {
  const a = normalisePrefix(from.key);
  const b = to.key;
  if (from.bucket !== to.bucket || !(a.startsWith(b) || b.startsWith(a))) return;
  throw new UsageError(
    `--to ${formatS3Url(to)} ${a === b ? 'is' : a.startsWith(b) ? 'holds' : 'lies inside'} the backup read with --from ${formatS3Url({ bucket: from.bucket, key: a })}: ` +
      'write the new backup to a prefix of its own (e.g. s3://BUCKET/new/ beside s3://BUCKET/old/)',
  );
}

/** The virtual directory must be empty or absent: files already there would be neither uploaded nor hidden. */
/** `dir` made if absent, refused unless it is an empty directory; its canonical path. */
export function prepareDir(dir: string, why = 'so that everything the program writes there goes to S3'): string {
  let st;
  try {
    st = statSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    return realpathSync(dir);
  }
  if (!st.isDirectory()) throw new UsageError(`--dir ${dir} exists and is not a directory`);
  const entries = readdirSync(dir);
  if (entries.length > 0) {
    throw new UsageError(
      `--dir ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); ` +
        `diskless needs an empty or absent directory, ${why}`,
    );
  }
  return realpathSync(dir);
}

