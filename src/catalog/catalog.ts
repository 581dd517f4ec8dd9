import { readSmallObject, type ReadContext } from '../download/object-reader.js';
import { describeError } from '../errors.js';
import { fileKeys, type BackupKind, type Manifest } from '../manifest/manifest.js';
import { parseManifest } from '../manifest/read-manifest.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { ListedObject } from '../upload/object-store.js';
import { withRetry } from '../upload/retry.js';
import { Limiter } from '../util/limiter.js';
import { checkAgainstListing, type FileCheck } from './file-check.js';
import { keyRole } from './record-keys.js';

export type BackupStatus = 'complete' | 'incomplete' | 'damaged';

export interface LastVerification {
  at: string;
  deep: boolean;
  result: 'ok' | 'failed';
  url: string;
}

export interface CatalogEntry {
  /** The backup's prefix (run, serve), its object (put), or its manifest (snapshot, several per prefix). */
  url: string;
  kind: BackupKind | 'unknown';
  status: BackupStatus;
  startedAt: string | null;
  endedAt: string | null;
  files: number;
  bytes: number;
  command: string[] | null;
  tool: string | null;
  host: string | null;
  /** The manifest (complete and damaged backups). */
  manifestKey?: string;
  manifest?: Manifest;
  /** Listing check of every file of the manifest (damaged when one is not ok). */
  checks: FileCheck[];
  /** Incomplete: the objects found; run/serve: objects under the prefix that the manifest does not name. */
  objects: string[];
  lastVerification: LastVerification | null;
}

export interface Catalog {
  bucket: string;
  entries: CatalogEntry[];
  listing: ReadonlyMap<string, ListedObject>;
}

/**
 * Every backup at or under `s3://bucket/prefix`, from one paginated listing plus one GET per
 * manifest (no request per object). A backup is complete when its manifest is there and every
 * object it names is listed with the recorded size and ETag, damaged when one is not, and objects
 * no manifest names are grouped by directory into incomplete backups (a failed, killed or running
 * backup, or objects diskless did not write).
 */
export async function buildCatalog(ctx: ReadContext, bucket: string, prefix: string, signal?: AbortSignal): Promise<Catalog> {
  const listed = await withRetry(() => ctx.store.listObjects(bucket, prefix, { signal }), ctx.retry, { what: 'ListObjectsV2', signal });
  const listing = new Map(listed.map((o) => [o.key, o]));
  const owned = new Set<string>();
  const entries: CatalogEntry[] = [];

  const roles = listed.map((o) => ({ o, r: keyRole(o.key) }));
  const limiter = new Limiter(8);
  const load = async (key: string): Promise<Manifest | undefined> => {
    await limiter.acquire(signal);
    try {
      const text = await readSmallObject(ctx, { bucket, key }, signal);
      return text === undefined ? undefined : parseManifest(text, formatS3Url({ bucket, key }));
    } catch (err) {
      ctx.log.warn(`${formatS3Url({ bucket, key })}: not read (${describeError(err)}); its objects list as incomplete`);
      return undefined;
    } finally {
      limiter.release();
    }
  };

  // run/serve and snapshot manifests first: a run's file may be named like a put sidecar.
  const first = roles.filter(({ r }) => r.role === 'run-manifest' || r.role === 'snapshot-manifest');
  const loaded = await Promise.all(first.map(async ({ o }) => ({ o, m: await load(o.key) })));
  const firstOwned = new Set(loaded.flatMap(({ m }) => (m ? m.files.flatMap(fileKeys) : [])));
  const sidecars = roles.filter(({ o, r }) => r.role === 'put-manifest' && !firstOwned.has(o.key));
  const loadedPut = await Promise.all(sidecars.map(async ({ o }) => ({ o, m: await load(o.key) })));

  // A manifest named by its own URL (a snapshot's) may name archives outside what was listed: list its prefix too.
  const outside = new Set<string>();
  for (const { m } of [...loaded, ...loadedPut]) {
    if (m && m.files.some((f) => fileKeys(f).some((k) => !k.startsWith(prefix)))) outside.add(m.prefix);
  }
  for (const p of outside) {
    const more = await withRetry(() => ctx.store.listObjects(bucket, p, { signal }), ctx.retry, { what: 'ListObjectsV2', signal });
    for (const o of more) if (!listing.has(o.key)) listing.set(o.key, o);
  }

  for (const { o, m } of loaded) {
    if (!m) continue;
    const url = m.kind === 'snapshot' ? formatS3Url({ bucket, key: o.key }) : formatS3Url({ bucket, key: o.key.slice(0, o.key.lastIndexOf('/') + 1) });
    entries.push(manifestEntry(url, o.key, m, listing, owned));
  }
  for (const { o, m } of loadedPut) {
    if (!m) continue;
    entries.push(manifestEntry(formatS3Url({ bucket, key: m.files[0]?.key ?? o.key }), o.key, m, listing, owned));
  }

  // Verification records belong to the manifest they name.
  const byManifest = new Map(entries.map((e) => [e.manifestKey!, e]));
  for (const { o, r } of roles) {
    if (r.role !== 'verify-record') continue;
    const e = byManifest.get(r.manifestKey);
    if (!e) continue;
    owned.add(o.key);
    if (!e.lastVerification || e.lastVerification.at < r.at) {
      e.lastVerification = { at: r.at, deep: r.deep, result: r.result, url: formatS3Url({ bucket, key: o.key }) };
    }
  }

  // What no manifest names: unexpected inside a run/serve prefix, else incomplete backups by directory.
  // Longest prefix first: an object belongs to the innermost run that holds it.
  const runRoots = entries
    .filter((e) => e.kind === 'run' || e.kind === 'serve')
    .map((e) => ({ e, root: e.manifestKey!.slice(0, e.manifestKey!.lastIndexOf('/') + 1) }))
    .sort((a, b) => b.root.length - a.root.length);
  const orphans: ListedObject[] = [];
  for (const o of listed) {
    if (owned.has(o.key)) continue;
    const inRun = runRoots.find(({ root }) => o.key.startsWith(root));
    if (inRun) inRun.e.objects.push(o.key);
    else orphans.push(o);
  }
  entries.push(...groupOrphans(bucket, orphans, owned, prefix.slice(0, prefix.lastIndexOf('/') + 1)));
  entries.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '') || a.url.localeCompare(b.url));
  return { bucket, entries, listing };
}

function manifestEntry(url: string, manifestKey: string, m: Manifest, listing: ReadonlyMap<string, ListedObject>, owned: Set<string>): CatalogEntry {
  owned.add(manifestKey);
  for (const f of m.files) for (const k of fileKeys(f)) owned.add(k);
  const checks = m.files.map((f) => checkAgainstListing(f, listing));
  return {
    url,
    kind: m.kind,
    status: checks.every((c) => c.status === 'ok') ? 'complete' : 'damaged',
    startedAt: m.startedAt,
    endedAt: m.endedAt,
    files: m.totals.files,
    bytes: m.totals.bytes,
    command: m.command,
    tool: `${m.tool.name} ${m.tool.version}`,
    host: m.host,
    manifestKey,
    manifest: m,
    checks,
    objects: [],
    lastVerification: null,
  };
}

/**
 * Objects without a manifest, one incomplete backup per directory; a directory joins an ancestor
 * directory's group unless a backup with a manifest lies under that ancestor (or the ancestor is
 * the directory that was listed).
 */
function groupOrphans(bucket: string, orphans: readonly ListedObject[], owned: ReadonlySet<string>, listedDir: string): CatalogEntry[] {
  const holdsBackup = new Set<string>();
  for (const k of owned) for (let i = k.indexOf('/'); i >= 0; i = k.indexOf('/', i + 1)) holdsBackup.add(k.slice(0, i + 1));
  // The listed directory itself never swallows the directories under it.
  holdsBackup.add(listedDir);
  const byDir = new Map<string, ListedObject[]>();
  for (const o of orphans) {
    const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
    byDir.set(dir, [...(byDir.get(dir) ?? []), o]);
  }
  const groups = new Map<string, ListedObject[]>();
  for (const dir of [...byDir.keys()].sort((a, b) => a.length - b.length)) {
    const into = [...groups.keys()].find((g) => dir.startsWith(g) && !holdsBackup.has(g)) ?? dir;
    groups.set(into, [...(groups.get(into) ?? []), ...byDir.get(dir)!]);
  }
  return [...groups.entries()].map(([dir, objects]) => {
    const times = objects.map((o) => o.lastModified?.toISOString()).filter((t): t is string => t !== undefined).sort();
    return {
      url: formatS3Url({ bucket, key: dir }),
      kind: 'unknown',
      status: 'incomplete',
      startedAt: times[0] ?? null,
      endedAt: times[times.length - 1] ?? null,
      files: objects.length,
      bytes: objects.reduce((n, o) => n + o.size, 0),
      command: null,
      tool: null,
      host: null,
      checks: [],
      objects: objects.map((o) => o.key),
      lastVerification: null,
    };
  });
}

/** The entries `url` (as formatS3Url writes it) names: the backup itself, or every backup under it when it is a parent prefix. */
export function selectEntries(entries: readonly CatalogEntry[], url: string): CatalogEntry[] {
  // A backup named by its URL (its manifest) is that backup alone; objects no manifest names that lie
  // right at the URL (a stray README at the root of a backup prefix) do not hide the backups under it.
  const exact = entries.filter((e) => (e.url === url || e.url === `${url}/`) && e.manifestKey);
  if (exact.length > 0) return exact;
  const parent = url.endsWith('/') ? url : `${url}/`;
  return entries.filter((e) => e.url.startsWith(parent));
}
