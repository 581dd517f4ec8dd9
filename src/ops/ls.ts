import { catalogOf } from './catalog-of.js';
import { selectEntries, type CatalogEntry } from '../catalog/catalog.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { openSession, type SessionOptions } from './session.js';

export interface LsOptions extends SessionOptions {
  /** `s3://bucket[/prefix]`: every backup at or under it. */
  url: string;
  signal?: AbortSignal;
}

/** What `ls --json` prints per backup. */
export interface BackupListing {
  url: string;
  kind: CatalogEntry['kind'];
  status: CatalogEntry['status'];
  startedAt: string | null;
  endedAt: string | null;
  files: number;
  bytes: number;
  command: string[] | null;
  tool: string | null;
  host: string | null;
  manifest: string | null;
  /** Damaged: the files whose objects do not match the manifest, and how. */
  problems: string[];
  /** run/serve: objects under the prefix that the manifest does not name. */
  unexpected: number;
  lastVerification: CatalogEntry['lastVerification'];
}

/** `diskless ls`: the backups at or under a prefix, oldest first, from one listing. */
export async function ls(options: LsOptions): Promise<BackupListing[]> {
  const loc = parseS3Url(options.url, 'URL');
  const session = await openSession(options);
  try {
    const catalog = await catalogOf(session, loc.bucket, loc.key, loc, options.signal);
    return selectEntries(catalog.entries, formatS3Url(loc)).map((e) => ({
      url: e.url,
      kind: e.kind,
      status: e.status,
      startedAt: e.startedAt,
      endedAt: e.endedAt,
      files: e.files,
      bytes: e.bytes,
      command: e.command,
      tool: e.tool,
      host: e.host,
      manifest: e.manifestKey ? formatS3Url({ bucket: catalog.bucket, key: e.manifestKey }) : null,
      problems: e.checks.filter((c) => c.status !== 'ok').map((c) => `${c.path}: ${c.status}${c.detail ? ` (${c.detail})` : ''}`),
      unexpected: e.manifest ? e.objects.length : 0,
      lastVerification: e.lastVerification,
    }));
  } finally {
    session.close();
  }
}
