import { setMaxListeners } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, rename, rm, rmdir, stat, symlink } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { catalogOf } from './catalog-of.js';
import { type Catalog, type CatalogEntry } from '../catalog/catalog.js';
import { AgeDecryptor, DecryptError, noIdentity } from '../crypto/age-stream.js';
import { identitiesFor, type Identity } from '../crypto/recipients.js';
import { BackupVerifyError, PreflightError, UsageError, describeError } from '../errors.js';
import type { ManifestFile } from '../manifest/manifest.js';
import { extractArchive, decompressorArgv, extractArgv } from '../restore/archive-extractor.js';
import { restoreFile, isRestoreTemp, type RestoredFile } from '../restore/file-restorer.js';
import { itemOfFile, pathFilter, safeRelativePath, type RestoreItem } from '../restore/restore-item.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { Limiter } from '../util/limiter.js';
import { DEFAULT_CHUNK_SIZE } from '../verify/ranged-reader.js';
import { openSession, type SessionOptions } from './session.js';
import { DEFAULT_RESTORE_CONCURRENCY } from './command-defaults.js';

/** Files larger than one ranged GET restored at once; each has up to `concurrency` GETs in flight. */
const LARGE_FILES_AT_ONCE = 2;

export interface RestoreOptions extends SessionOptions {
  /** One backup: a run/serve prefix, a put object, a snapshot manifest or one archive of it. */
  url: string;
  dir: string;
  /** Ranged GETs in flight (default 8). Memory: at most 3 × this × 8 MiB of buffers. */
  concurrency?: number;
  /** Restore a backup without a manifest (no checksums to check: sizes and ETags only). */
  force?: boolean;
  /** Restore into a directory that is not empty, replacing files of the same name. */
  overwrite?: boolean;
  /** fsync each file before its rename (default true): a crash never leaves a named file that is not on disk. */
  fsync?: boolean;
  /** Glob patterns (picomatch) on the paths in the backup; volume labels for a snapshot. */
  include?: readonly string[];
  exclude?: readonly string[];
  signal?: AbortSignal;
  onProgress?: (p: RestoreProgress) => void;
  /** age identities for an encrypted backup (each file is decrypted; only authenticated bytes are written). */
  identities?: readonly Identity[];
}

export interface RestoreProgress {
  files: number;
  filesDone: number;
  bytes: number;
  bytesDone: number;
}

export interface RestoreResult {
  url: string;
  kind: CatalogEntry['kind'];
  dir: string;
  ok: boolean;
  files: RestoredFile[];
  symlinks: number;
  bytes: number;
  elapsedMs: number;
  /** What the restore could not do as the backup has it (e.g. SELinux labels on a host without SELinux). */
  notes: string[];
}

/** A manifest may list symlinks (`symlinks: [{ path, target }]`); no writer records them yet (run refuses symlinks under --dir). */
interface ManifestSymlink {
  path: string;
  target: string;
}

/**
 * `diskless restore`: one backup into `dir`. Every file is read with parallel ranged GETs pinned
 * to its ETag, hashed while it is written under a temporary name, and renamed to its name only
 * when its CRC32C (and SHA-256 when recorded) match the manifest; snapshot archives are extracted
 * with the metadata flags their tar command used. Files that fail are reported in the result
 * (`ok: false`); the others are restored.
 */
export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const loc = parseS3Url(options.url, 'URL');
  const url = formatS3Url(loc);
  const concurrency = options.concurrency ?? DEFAULT_RESTORE_CONCURRENCY;
  checkTargetDir(options.dir, options.overwrite ?? false);
  // Every file and ranged GET waiting for a slot listens to the signal: one of our own, without the listener warning.
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  options.signal?.addEventListener('abort', () => abort.abort(options.signal!.reason), { once: true });
  if (options.signal?.aborted) abort.abort(options.signal.reason);
  options = { ...options, signal: abort.signal };
  const session = await openSession(options, concurrency + 2);
  try {
    const parent = loc.key.slice(0, loc.key.lastIndexOf('/') + 1);
    const catalog = await catalogOf(session, loc.bucket, parent, loc, options.signal);
    const { entry, only } = pickBackup(catalog.entries, url, loc.key);
    if (entry.status === 'incomplete' && !options.force) {
      throw new BackupVerifyError(
        `${entry.url} has no manifest: ${entry.files} object(s) of a failed, killed or still running backup (or not written by diskless); ` +
          'pass --force to restore them anyway, without checksums',
      );
    }
    const filter = pathFilter(options.include ?? [], options.exclude ?? []);
    const items = itemsOf(entry, catalog, only).filter((i) => filter(i.path));
    if (items.length === 0) throw new UsageError(`nothing to restore: no file of ${entry.url} matches --include/--exclude`);
    if (entry.status === 'incomplete') session.log.warn(`${entry.url} has no manifest: restoring ${items.length} object(s) with their sizes and ETags checked, no checksums`);
    const decryptorFor = decryptors(items, entry.url, options.identities ?? []);

    const progress: RestoreProgress = { files: items.length, filesDone: 0, bytes: items.reduce((n, i) => n + i.size, 0), bytesDone: 0 };
    const onBytes = (n: number) => {
      progress.bytesDone += n;
      options.onProgress?.(progress);
    };
    const requests = new Limiter(concurrency);
    const large = new Limiter(LARGE_FILES_AT_ONCE);
    const small = new Limiter(concurrency);
    const notes: string[] = [];
    await mkdir(options.dir, { recursive: true });
    const snapshot = entry.kind === 'snapshot';
    const files = await Promise.all(
      items.map(async (item, i): Promise<RestoredFile> => {
        const isLarge = item.size > DEFAULT_CHUNK_SIZE || snapshot;
        const slots = isLarge ? large : small;
        await slots.acquire(options.signal);
        try {
          const read = { chunkSize: DEFAULT_CHUNK_SIZE, window: isLarge ? concurrency : 1, requests, ...(options.signal ? { signal: options.signal } : {}) };
          if (snapshot) {
            const target = items.length === 1 ? options.dir : join(options.dir, volumeDirName(item.path));
            return await restoreArchive(session, catalog.bucket, item, volumeOf(entry, item), target, i, read, notes, onBytes, decryptorFor(item));
          }
          return await restoreFile(session, catalog.bucket, item, join(options.dir, item.path), read, onBytes, options.fsync ?? true, decryptorFor(item));
        } catch (err) {
          // A local failure (EACCES, ENOSPC, a file where a directory should be) fails this file, not the others.
          if (options.signal?.aborted) throw err;
          return { path: item.path, key: item.key, status: 'error', bytes: 0, detail: describeError(err) };
        } finally {
          slots.release();
          progress.filesDone++;
          options.onProgress?.(progress);
        }
      }),
    );
    const symlinks = await restoreSymlinks(entry, options.dir, filter, options.overwrite ?? false);
    return {
      url: entry.url,
      kind: entry.kind,
      dir: options.dir,
      ok: files.every((f) => f.status === 'ok'),
      files,
      symlinks,
      bytes: files.reduce((n, f) => n + (f.status === 'ok' ? f.bytes : 0), 0),
      elapsedMs: Date.now() - started,
      notes: [...new Set(notes)],
    };
  } finally {
    session.close();
  }
}

/** DIR must be absent or empty, unless --overwrite (restore's own temporary names do not count). */
function checkTargetDir(dir: string, overwrite: boolean): void {
  if (!existsSync(dir) || overwrite) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new UsageError(`cannot read the directory ${dir}: ${describeError(err)}`);
  }
  const others = names.filter((n) => !isRestoreTemp(n));
  if (others.length > 0) {
    throw new UsageError(`${dir} is not empty (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', …' : ''}); restore into an empty directory, or pass --overwrite to replace files of the same name`);
  }
}

/** The one backup `url` names; `only` restricts it to one file (an archive of a snapshot, named by its key). */
export function pickBackup(entries: readonly CatalogEntry[], url: string, key: string): { entry: CatalogEntry; only?: ManifestFile } {
  const exact = entries.find((e) => e.url === url || e.url === `${url}/`);
  if (exact?.status === 'incomplete') {
    // Without a manifest, the backup is every object under the prefix that no manifest names (the catalogue groups them by directory).
    const parts = entries.filter((e) => e.status === 'incomplete' && e.url.startsWith(exact.url));
    const objects = parts.flatMap((e) => e.objects);
    return { entry: { ...exact, objects, files: objects.length, bytes: parts.reduce((n, e) => n + e.bytes, 0) } };
  }
  if (exact) return { entry: exact };
  for (const e of entries) {
    const f = e.manifest?.files.find((x) => x.key === key);
    if (f) return { entry: e, only: f };
  }
  const under = entries.filter((e) => e.url.startsWith(url.endsWith('/') ? url : `${url}/`));
  if (under.length > 0) {
    throw new UsageError(`${url} holds ${under.length} backups; restore one of them: ${under.slice(0, 5).map((e) => e.url).join(', ')}${under.length > 5 ? ', …' : ''} (diskless ls ${url})`);
  }
  throw new PreflightError(`no backup at ${url}; diskless ls shows the backups under a prefix`);
}

/** The manifest's files (run/serve paths, put's object name, snapshot volume labels), or with --force the listed objects of an incomplete backup. */
export function itemsOf(entry: CatalogEntry, catalog: Catalog, only: ManifestFile | undefined): RestoreItem[] {
  const bucket = catalog.bucket;
  if (!entry.manifest) {
    const root = parseS3Url(entry.url).key;
    return entry.objects.map((key) => {
      const o = catalog.listing.get(key)!;
      const piece = { key, size: o.size, ...(o.etag ? { etag: o.etag } : {}) };
      return { path: safeRelativePath(key.slice(root.length), formatS3Url({ bucket, key })), key, size: o.size, pieces: [piece] };
    });
  }
  const files = only ? [only] : entry.manifest.files;
  // A snapshot's path is its volume label (vg0/data, /srv): matched by --include, never used as a path.
  if (entry.kind === 'snapshot') return files.map((f) => itemOfFile(f, f.path));
  return files.map((f) => itemOfFile(f, safeRelativePath(f.path, formatS3Url({ bucket, key: f.key }))));
}

/** Several volumes: each into DIR/<label with / as ->, e.g. `vg0-data`, `srv`. */
function volumeDirName(label: string): string {
  const name = label.replace(/^\/+|\/+$/g, '').replace(/\//g, '-');
  return /^\.*$/.test(name) ? `volume-${name.length}` : name;
}

function volumeOf(entry: CatalogEntry, item: RestoreItem): Record<string, unknown> {
  return entry.manifest?.files.find((f) => f.key === item.key)?.volume ?? {};
}

/** Extracts one snapshot archive into a staging directory inside `target`, then moves its entries into place. */
async function restoreArchive(
  ctx: Parameters<typeof extractArchive>[0],
  bucket: string,
  item: RestoreItem,
  volume: Record<string, unknown>,
  target: string,
  index: number,
  read: Parameters<typeof extractArchive>[4],
  notes: string[],
  onBytes: (n: number) => void,
  decrypt?: AgeDecryptor,
): Promise<RestoredFile> {
  const base = { path: item.path, key: item.key };
  const staging = join(target, `.diskless-restore-${process.pid}-${index}`);
  await mkdir(staging, { recursive: true });
  try {
    const tarCommand = Array.isArray(volume['tarCommand']) ? (volume['tarCommand'] as string[]) : [];
    if (tarCommand.length === 0) notes.push(`${item.path}: the manifest records no tar command; extracting with plain tar -x -p`);
    const tar = extractArgv(tarCommand, staging, existsSync('/sys/fs/selinux/enforce'));
    notes.push(...tar.notes);
    const decompress = decompressorArgv(Array.isArray(volume['compressCommand']) ? (volume['compressCommand'] as string[]) : undefined);
    await extractArchive(ctx, bucket, item, decompress ? [decompress, tar.argv] : [tar.argv], read, onBytes, decrypt);
    for (const name of await readdir(staging)) {
      const to = join(target, name);
      if (await lstat(to).then(() => true, () => false)) await rm(to, { recursive: true, force: true });
      await rename(join(staging, name), to);
    }
    // The archive's root ('.') carries the volume root's mode and owner.
    const root = await stat(staging);
    await chmod(target, root.mode & 0o7777);
    await chown(target, root.uid, root.gid).catch(() => undefined);
    await rmdir(staging);
    return { ...base, status: 'ok', bytes: item.size };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (read.signal?.aborted) throw err;
    const damaged = err instanceof DecryptError && err.reason === 'damaged';
    const status = damaged || /CRC32C|SHA-256/.test(describeError(err)) ? 'checksum mismatch' : 'error';
    return { ...base, status, bytes: 0, detail: describeError(err) };
  }
}

/**
 * A decryptor for each encrypted item, with the identities among its recipients (restore, run --from:
 * a new one per call). Checked before anything is read: an encrypted backup without --identity, or with none of its recipients'
 * identities, fails at once (exit 7) naming the recipients.
 */
export function decryptors(items: readonly RestoreItem[], url: string, identities: readonly Identity[]): (item: RestoreItem) => AgeDecryptor | undefined {
  const encrypted = items.filter((i) => i.encryption);
  const recipients = [...new Set(encrypted.flatMap((i) => i.encryption!.recipients))];
  if (encrypted.length > 0 && identities.length === 0) {
    throw new DecryptError(`${url} is age-encrypted (for ${recipients.join(', ')}): pass --identity FILE with the secret key of one of them`, 'no-identity');
  }
  const unreadable = encrypted.find((i) => identitiesFor(identities, i.encryption!.recipients).length === 0);
  if (unreadable) throw noIdentity(url, unreadable.encryption!.recipients);
  return (item) => {
    if (!item.encryption) return undefined;
    const usable = identitiesFor(identities, item.encryption.recipients);
    return new AgeDecryptor({ identities: usable.map((i) => i.secret), recipients: item.encryption.recipients, what: item.key });
  };
}

async function restoreSymlinks(entry: CatalogEntry, dir: string, filter: (p: string) => boolean, overwrite: boolean): Promise<number> {
  const links = (entry.manifest as { symlinks?: ManifestSymlink[] } | undefined)?.symlinks ?? [];
  let n = 0;
  for (const l of links) {
    const path = safeRelativePath(l.path, `symlink ${l.path}`);
    if (!filter(path)) continue;
    const at = join(dir, path);
    await mkdir(dirname(at), { recursive: true });
    if (overwrite) await rm(at, { force: true });
    await symlink(l.target, at);
    n++;
  }
  return n;
}
