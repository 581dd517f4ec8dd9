import { catalogOf } from './catalog-of.js';
import { selectEntries, type Catalog, type CatalogEntry } from '../catalog/catalog.js';
import { keyRole } from '../catalog/record-keys.js';
import { readSmallObject } from '../download/object-reader.js';
import { UsageError, describeError } from '../errors.js';
import { fileKeys } from '../manifest/manifest.js';
import { storeJson } from '../manifest/store-manifest.js';
import { BatchDeleter, type DeleteFailure } from '../prune/batch-delete.js';
import { groupKey, type GroupBy } from '../prune/prune-groups.js';
import { applyRetention, hasRules, type RetentionPolicy } from '../prune/retention.js';
import { writtenByDiskless } from '../prune/written-by-diskless.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { MemoryBudget } from '../upload/memory-budget.js';
import { withRetry } from '../upload/retry.js';
import { Limiter } from '../util/limiter.js';
import { openSession, type Session, type SessionOptions } from './session.js';

export const DEFAULT_INCOMPLETE_AFTER_MS = 24 * 3_600_000;
/** Written before a backup's manifest is deleted, removed last: a rerun finishes what it lists. */
export const PRUNE_MARKER_SUFFIX = '.diskless-prune.json';
const PRUNE_MARKER_FORMAT = 'diskless-prune/1';

export interface PruneOptions extends SessionOptions {
  /** Every backup under this prefix (PARENT). */
  url: string;
  policy: RetentionPolicy;
  dryRun?: boolean;
  /** Objects without a manifest are deleted once their newest object is older than this (default 24 h). */
  incompleteAfterMs?: number;
  groupBy?: GroupBy;
  /** The clock, for tests. */
  now?: Date;
  signal?: AbortSignal;
  /** Called after each step (the CLI prints it; tests stop the process at a chosen step). */
  onStep?: (step: PruneStep) => void;
}

export type PruneStep =
  | { step: 'manifest-deleted'; url: string; manifest: string }
  | { step: 'backup-deleted'; url: string; objects: number }
  | { step: 'resumed'; marker: string; objects: number };

export type PruneAction = 'keep' | 'delete' | 'skip';

export interface PrunedBackup {
  url: string;
  kind: CatalogEntry['kind'];
  status: CatalogEntry['status'];
  startedAt: string | null;
  group: string;
  action: PruneAction;
  /** Why it is kept (the rules), or why it is skipped. */
  reasons: string[];
  objects: number;
  bytes: number;
  /** Objects under a run's prefix that its manifest does not name: never deleted with it. */
  leftUnnamed?: number;
  /** Objects of an incomplete backup that diskless did not write (no writer id): never deleted. */
  leftForeign?: number;
}

export interface PruneResult {
  url: string;
  dryRun: boolean;
  backups: PrunedBackup[];
  /** Interrupted prunes finished first (their markers). */
  resumed: string[];
  deletedObjects: number;
  failed: DeleteFailure[];
}

/**
 * `diskless prune`: applies a retention policy to the complete backups under a prefix, per
 * series (prune-groups.ts), and removes old incomplete ones. Order, so that an interruption at
 * any point never leaves a complete-looking backup with files missing: a marker listing every
 * key of the backup is written, the manifest deleted, then the objects (DeleteObjects, 1,000 per
 * request), then the marker. A rerun finishes every marker it finds first.
 */
export async function prune(options: PruneOptions): Promise<PruneResult> {
  if (!hasRules(options.policy)) {
    throw new UsageError('no keep rule given: pass at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within');
  }
  const loc = parseS3Url(options.url, 'PARENT');
  const dryRun = options.dryRun ?? false;
  const session = await openSession(options);
  try {
    const result: PruneResult = { url: formatS3Url(loc), dryRun, backups: [], resumed: [], deletedObjects: 0, failed: [] };
    const deleter = new BatchDeleter(session, loc.bucket, options.signal);
    let catalog = await catalogOf(session, loc.bucket, loc.key, loc, options.signal);
    const markers = [...catalog.listing.keys()].filter((k) => k.endsWith(PRUNE_MARKER_SUFFIX));
    if (markers.length > 0) {
      for (const marker of markers) {
        result.resumed.push(formatS3Url({ bucket: loc.bucket, key: marker }));
        if (dryRun) continue;
        const n = await finishMarker(session, deleter, loc.bucket, marker, catalog, result, options);
        options.onStep?.({ step: 'resumed', marker: formatS3Url({ bucket: loc.bucket, key: marker }), objects: n });
      }
      if (!dryRun) catalog = await catalogOf(session, loc.bucket, loc.key, loc, options.signal);
    }
    const entries = selectEntries(catalog.entries, result.url).filter((e) => !(dryRun && e.objects.some((k) => markers.includes(k))));
    const open = await withRetry(() => session.store.listMultipartUploads(loc.bucket, loc.key, { signal: options.signal }), session.retry, {
      what: 'ListMultipartUploads',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const plan = planPrune(entries, catalog, {
      policy: options.policy,
      groupBy: options.groupBy ?? 'template',
      now: options.now ?? new Date(),
      incompleteAfterMs: options.incompleteAfterMs ?? DEFAULT_INCOMPLETE_AFTER_MS,
      openUploadKeys: open.map((u) => u.key),
    });
    // An incomplete backup has no manifest to vouch for its objects: only those diskless wrote go.
    for (const p of plan) {
      if (p.backup.action !== 'delete' || p.entry.manifestKey) continue;
      const { ours, foreign } = await writtenByDiskless(session, loc.bucket, p.keys, options.signal);
      p.keys = ours;
      p.backup.objects = ours.length;
      p.backup.bytes = ours.reduce((n, k) => n + (catalog.listing.get(k)?.size ?? 0), 0);
      if (foreign.length > 0) {
        p.backup.leftForeign = foreign.length;
        session.log.warn(`${p.backup.url}: ${foreign.length} object(s) not written by diskless left alone (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`);
      }
      if (ours.length === 0) {
        p.backup.action = 'keep';
        p.backup.reasons = ['incomplete, but nothing in it was written by diskless: left alone'];
      }
    }
    result.backups = plan.map((p) => p.backup);
    if (dryRun) return result;
    for (const p of plan) {
      if (p.backup.action !== 'delete') continue;
      await deleteBackup(session, deleter, loc.bucket, p.entry, p.keys, result, options);
    }
    return result;
  } finally {
    session.close();
  }
}


interface PlannedBackup {
  entry: CatalogEntry;
  backup: PrunedBackup;
  /** Every key to delete, manifest first, then each file's first object (of an incomplete backup: only what diskless wrote). */
  keys: string[];
}

/** The plan, oldest first: what each backup's series' policy keeps; incomplete and damaged backups by their own rules. */
export function planPrune(
  entries: readonly CatalogEntry[],
  catalog: Catalog,
  o: { policy: RetentionPolicy; groupBy: GroupBy; now: Date; incompleteAfterMs: number; openUploadKeys: readonly string[] },
): PlannedBackup[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const e of entries) if (e.status === 'complete') groups.set(groupKey(e, o.groupBy), [...(groups.get(groupKey(e, o.groupBy)) ?? []), e]);
  const decided = new Map<CatalogEntry, { keep: boolean; reasons: string[] }>();
  for (const series of groups.values()) {
    const byId = new Map(series.map((e) => [e.url, e]));
    for (const d of applyRetention(series.map((e) => ({ id: e.url, time: new Date(e.startedAt ?? 0) })), o.policy)) decided.set(byId.get(d.id)!, d);
  }
  return entries.map((e) => {
    const keys = keysOf(e, catalog);
    const backup: PrunedBackup = {
      url: e.url,
      kind: e.kind,
      status: e.status,
      startedAt: e.startedAt,
      group: e.status === 'complete' ? groupKey(e, o.groupBy) : '-',
      action: 'keep',
      reasons: [],
      objects: keys.length,
      bytes: keys.reduce((n, k) => n + (catalog.listing.get(k)?.size ?? 0), 0),
      ...(e.manifest && e.objects.length > 0 ? { leftUnnamed: e.objects.length } : {}),
    };
    if (e.status === 'complete') {
      const d = decided.get(e)!;
      backup.action = d.keep ? 'keep' : 'delete';
      backup.reasons = d.reasons;
    } else if (e.status === 'damaged') {
      backup.reasons = ['damaged: never pruned (diskless verify names what is wrong; delete it by hand)'];
    } else {
      const root = parseS3Url(e.url).key;
      const newest = Date.parse(e.endedAt ?? '');
      const age = o.now.getTime() - newest;
      if (o.openUploadKeys.some((k) => k.startsWith(root))) {
        backup.action = 'skip';
        backup.reasons = ['incomplete, with a multipart upload still open under it: its writer may be running (diskless gc aborts abandoned ones)'];
      } else if (!Number.isFinite(age) || age < o.incompleteAfterMs) {
        backup.reasons = [`incomplete, newest object ${Number.isFinite(age) ? `${Math.round(age / 60_000)} min` : 'of unknown age'} old: younger than --incomplete-after`];
      } else {
        backup.action = 'delete';
        backup.reasons = ['incomplete, older than --incomplete-after'];
      }
    }
    return { entry: e, backup, keys };
  });
}

/** The keys of a backup, manifest first, then each file's first object (a chain's object 0 makes it visible), then the rest. */
function keysOf(e: CatalogEntry, catalog: Catalog): string[] {
  if (!e.manifest || !e.manifestKey) return [...e.objects];
  const firsts = e.manifest.files.map((f) => f.key);
  const rest = e.manifest.files.flatMap((f) => fileKeys(f)).filter((k) => !firsts.includes(k));
  const records = [...catalog.listing.keys()].filter((k) => {
    const r = keyRole(k);
    return r.role === 'verify-record' && r.manifestKey === e.manifestKey;
  });
  return [e.manifestKey, ...firsts, ...rest, ...records].filter((k) => catalog.listing.has(k));
}

async function deleteBackup(
  session: Session,
  deleter: BatchDeleter,
  bucket: string,
  e: CatalogEntry,
  keys: string[],
  result: PruneResult,
  options: PruneOptions,
): Promise<void> {
  if (e.manifestKey && keys[0] === e.manifestKey) {
    const marker = e.manifestKey + PRUNE_MARKER_SUFFIX;
    const body = { format: PRUNE_MARKER_FORMAT, backup: e.url, manifest: e.manifestKey, at: new Date().toISOString(), keys: keys.slice(1) };
    const upload = { store: session.store, budget: new MemoryBudget(16 * 1024 * 1024), requests: new Limiter(1), retry: session.retry, log: session.log };
    let marked = true;
    try {
      await storeJson(upload, { bucket, key: marker }, body);
    } catch (err) {
      marked = false;
      session.log.warn(`could not write ${formatS3Url({ bucket, key: marker })} (${describeError(err)}); if this prune is interrupted, a rerun deletes the rest once it is older than --incomplete-after`);
    }
    // The manifest first, alone: until it is gone the backup must stay whole.
    const first = await deleter.delete([e.manifestKey]);
    if (first.failed.length > 0) {
      result.failed.push(...first.failed);
      session.log.warn(`${e.url}: its manifest could not be deleted (${first.failed[0]!.code}); the backup is left whole`);
      if (marked) await deleter.delete([marker]);
      return;
    }
    result.deletedObjects += 1;
    options.onStep?.({ step: 'manifest-deleted', url: e.url, manifest: formatS3Url({ bucket, key: e.manifestKey }) });
    const rest = await deleter.delete(keys.slice(1));
    result.deletedObjects += rest.deleted;
    result.failed.push(...rest.failed);
    if (marked && rest.failed.length === 0) await deleter.delete([marker]);
    options.onStep?.({ step: 'backup-deleted', url: e.url, objects: 1 + rest.deleted });
    return;
  }
  const out = await deleter.delete(keys);
  result.deletedObjects += out.deleted;
  result.failed.push(...out.failed);
  options.onStep?.({ step: 'backup-deleted', url: e.url, objects: out.deleted });
}

/** Finishes an interrupted prune: deletes the keys its marker lists (unless a manifest is back: then the backup is kept), then the marker. */
async function finishMarker(
  session: Session,
  deleter: BatchDeleter,
  bucket: string,
  marker: string,
  catalog: Catalog,
  result: PruneResult,
  options: PruneOptions,
): Promise<number> {
  let keys: string[] = [];
  try {
    const text = await readSmallObject(session, { bucket, key: marker }, options.signal);
    const body = text === undefined ? undefined : (JSON.parse(text) as { format?: string; manifest?: string; keys?: unknown });
    if (body?.format !== PRUNE_MARKER_FORMAT || !Array.isArray(body.keys)) {
      session.log.warn(`${formatS3Url({ bucket, key: marker })} is not a prune marker of this diskless; left alone`);
      return 0;
    }
    if (body.manifest && catalog.listing.has(body.manifest)) {
      // The manifest is still there (the prune stopped before deleting it): the backup is whole; the policy decides again.
      await deleter.delete([marker]);
      return 0;
    }
    const listed = (body.keys as unknown[]).filter((k): k is string => typeof k === 'string' && catalog.listing.has(k));
    // The marker was written when the manifest still vouched for these keys; the objects there now must still be diskless's.
    const { ours, foreign } = await writtenByDiskless(session, bucket, listed, options.signal);
    if (foreign.length > 0) session.log.warn(`${formatS3Url({ bucket, key: marker })}: ${foreign.length} key(s) now hold objects diskless did not write; left alone`);
    keys = ours;
  } catch (err) {
    session.log.warn(`${formatS3Url({ bucket, key: marker })}: not read (${describeError(err)}); left alone`);
    return 0;
  }
  const out = await deleter.delete(keys);
  result.deletedObjects += out.deleted;
  result.failed.push(...out.failed);
  if (out.failed.length === 0) await deleter.delete([marker]);
  return out.deleted;
}
