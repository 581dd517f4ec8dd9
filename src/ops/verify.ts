import { catalogOf } from './catalog-of.js';
import { selectEntries, type CatalogEntry } from '../catalog/catalog.js';
import type { FileCheck } from '../catalog/file-check.js';
import { verifyRecordKey } from '../catalog/record-keys.js';
import { readSmallObject, type ReadContext } from '../download/object-reader.js';
import { AgeDecryptor, noIdentity } from '../crypto/age-stream.js';
import { identitiesFor, type Identity } from '../crypto/recipients.js';
import { describeError } from '../errors.js';
import type { ManifestFile } from '../manifest/manifest.js';
import { storeJson } from '../manifest/store-manifest.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { chainIndexKey, parseChainIndex } from '../upload/chain.js';
import { MemoryBudget } from '../upload/memory-budget.js';
import { Limiter } from '../util/limiter.js';
import { deepCheckFile, type DeepCheck } from '../verify/deep-check.js';
import { checkDumpLayouts } from '../verify/dump-layout.js';
import { DEFAULT_CHUNK_SIZE } from '../verify/ranged-reader.js';
import { openSession, type SessionOptions } from './session.js';

export const VERIFY_RECORD_FORMAT = 'diskless-verify/1';
export const DEFAULT_VERIFY_CONCURRENCY = 8;
/** Files read back at once by --deep; each has up to `concurrency` ranged GETs in flight. */
const FILES_AT_ONCE = 2;

export interface VerifyOptions extends SessionOptions {
  /** One backup (its prefix, object or manifest), or a parent prefix: every backup under it. */
  url: string;
  deep?: boolean;
  /** Record the result beside each backup (default true). */
  record?: boolean;
  /** Ranged GETs in flight (default 8); memory is at most 2 × this × 8 MiB. */
  concurrency?: number;
  signal?: AbortSignal;
  /** age identities: --deep decrypts encrypted files with them and checks their content (without: ciphertext checksums only). */
  identities?: readonly Identity[];
  /** Called as each backup is done (the CLI prints a line per backup). */
  onBackup?: (b: BackupVerification) => void;
  /** --deep: told the bytes of each range read back (progress lines). */
  onBytes?: (n: number) => void;
}

export interface FileVerification extends FileCheck {
  format?: string;
  note?: string;
}

export interface BackupVerification {
  url: string;
  kind: CatalogEntry['kind'];
  deep: boolean;
  ok: boolean;
  /** Why the backup as a whole failed (no manifest), when not a file's fault. */
  problem?: string;
  files: FileVerification[];
  /** Objects under a run's prefix that its manifest does not name (reported, not a failure). */
  unexpected: string[];
  bytesRead: number;
  elapsedMs: number;
  recordUrl?: string;
}

export interface VerifyResult {
  url: string;
  ok: boolean;
  backups: BackupVerification[];
}

/**
 * `diskless verify`: shallow by default (the listing: every object with its size, composite
 * ETag and part count; chain indexes consistent), `deep` reads every byte back (checksums and
 * content formats). Each result is recorded beside the backup's manifest, never in it.
 */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const loc = parseS3Url(options.url, 'URL');
  const url = formatS3Url(loc);
  const session = await openSession(options, (options.concurrency ?? DEFAULT_VERIFY_CONCURRENCY) + 2);
  try {
    const catalog = await catalogOf(session, loc.bucket, loc.key, loc, options.signal);
    const selected = selectEntries(catalog.entries, url);
    const requests = new Limiter(options.concurrency ?? DEFAULT_VERIFY_CONCURRENCY);
    const backups: BackupVerification[] = [];
    for (const entry of selected) {
      const b = await verifyBackup(session, catalog.bucket, entry, { ...options, requests });
      if (entry.manifestKey && options.record !== false) b.recordUrl = await record(session, catalog.bucket, entry.manifestKey, b);
      backups.push(b);
      options.onBackup?.(b);
    }
    return { url, ok: backups.length > 0 && backups.every((b) => b.ok), backups };
  } finally {
    session.close();
  }
}

async function verifyBackup(
  ctx: ReadContext,
  bucket: string,
  entry: CatalogEntry,
  options: VerifyOptions & { requests: Limiter },
): Promise<BackupVerification> {
  const started = Date.now();
  const deep = options.deep ?? false;
  const base = { url: entry.url, kind: entry.kind, deep, unexpected: entry.objects, bytesRead: 0 };
  if (!entry.manifest) {
    return {
      ...base,
      unexpected: [],
      ok: false,
      problem: `no manifest: ${entry.files} object(s) of a failed, killed or still running backup (or not written by diskless)`,
      files: [],
      elapsedMs: Date.now() - started,
    };
  }
  const files = entry.manifest.files;
  const checks: FileVerification[] = await Promise.all(
    files.map(async (f, i) => {
      const c = entry.checks[i]!;
      return c.status === 'ok' && f.chain ? checkChainIndex(ctx, bucket, f, c, options.signal) : c;
    }),
  );
  let bytesRead = 0;
  if (deep) {
    const identities = options.identities ?? [];
    // A wrong identity fails before anything is read (exit 7), naming the recipients that would decrypt.
    const unreadable = identities.length > 0 ? files.find((f) => f.encryption && identitiesFor(identities, f.encryption.recipients).length === 0) : undefined;
    if (unreadable) throw noIdentity(entry.url, unreadable.encryption!.recipients);
    const decryptorFor = (f: ManifestFile) =>
      f.encryption && identities.length > 0
        ? new AgeDecryptor({ identities: identitiesFor(identities, f.encryption.recipients).map((i) => i.secret), recipients: f.encryption.recipients, what: f.path })
        : undefined;
    const captured = new Map<string, Buffer>();
    const slots = new Limiter(FILES_AT_ONCE);
    await Promise.all(
      files.map(async (f, i) => {
        if (checks[i]!.status !== 'ok') return;
        await slots.acquire(options.signal);
        try {
          const d: DeepCheck = await deepCheckFile(
            ctx,
            bucket,
            f,
            {
              chunkSize: DEFAULT_CHUNK_SIZE,
              window: options.concurrency ?? DEFAULT_VERIFY_CONCURRENCY,
              requests: options.requests,
              ...(options.signal ? { signal: options.signal } : {}),
              ...(options.onBytes ? { onBytes: options.onBytes } : {}),
            },
            decryptorFor(f),
          );
          bytesRead += f.size;
          const { captured: bytes, ...check } = d;
          if (bytes) captured.set(f.path, bytes);
          checks[i] = check;
        } finally {
          slots.release();
        }
      }),
    );
    for (const l of await checkDumpLayouts(files.map((f) => f.path), captured)) {
      const i = files.findIndex((f) => f.path === l.path);
      const c = checks[i]!;
      if (c.status !== 'ok') continue;
      checks[i] = { ...c, format: l.format, ...(l.problem ? { status: 'format error', detail: l.problem } : {}), ...(l.note ? { note: l.note } : {}) };
    }
  }
  return { ...base, bytesRead, ok: checks.every((c) => c.status === 'ok'), files: checks, elapsedMs: Date.now() - started };
}

/** A chain's index must be there and describe the chain the manifest recorded. */
async function checkChainIndex(ctx: ReadContext, bucket: string, f: ManifestFile, c: FileCheck, signal?: AbortSignal): Promise<FileCheck> {
  const ref = { bucket, key: chainIndexKey(f.key) };
  try {
    const text = await readSmallObject(ctx, ref, signal);
    if (text === undefined) return { ...c, status: 'missing', detail: 'its chain index is missing' };
    const index = parseChainIndex(text, formatS3Url(ref));
    const same =
      index.size === f.size &&
      index.crc32c === f.crc32c &&
      index.objects.length === f.chain!.length &&
      index.objects.every((o, i) => o.key === f.chain![i]!.key && o.size === f.chain![i]!.size);
    return same ? c : { ...c, status: 'checksum mismatch', detail: 'its chain index describes other objects than the manifest' };
  } catch (err) {
    return { ...c, status: 'checksum mismatch', detail: `its chain index is unreadable: ${describeError(err)}` };
  }
}

/** `<manifest>.verify-<time>-<shallow|deep>-<ok|failed>.json`; a store that refuses it (read-only keys) gets a warning. */
async function record(ctx: ReadContext, bucket: string, manifestKey: string, b: BackupVerification): Promise<string | undefined> {
  const at = new Date();
  const key = verifyRecordKey(manifestKey, at, b.deep, b.ok);
  const body = {
    format: VERIFY_RECORD_FORMAT,
    url: b.url,
    manifest: formatS3Url({ bucket, key: manifestKey }),
    deep: b.deep,
    ok: b.ok,
    at: at.toISOString(),
    elapsedMs: b.elapsedMs,
    bytesRead: b.bytesRead,
    files: b.files,
    unexpected: b.unexpected,
  };
  const upload = { store: ctx.store, budget: new MemoryBudget(16 * 1024 * 1024), requests: new Limiter(1), retry: ctx.retry, log: ctx.log };
  try {
    await storeJson(upload, { bucket, key }, body);
    return formatS3Url({ bucket, key });
  } catch (err) {
    ctx.log.warn(`could not record the result at ${formatS3Url({ bucket, key })} (${describeError(err)}); with read-only credentials, pass --no-record`);
    return undefined;
  }
}
