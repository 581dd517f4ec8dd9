import { BackupVerifyError, UsageError } from '../errors.js';
import { BackupTree } from '../ingest/backup-tree.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { catalogOf } from './catalog-of.js';
import { itemsOf, pickBackup } from './restore.js';
import type { Session } from './session.js';

/**
 * The backup `run --from URL` shows under its directory: the run or serve backup at URL, which must be
 * whole (it has a manifest), as a BackupTree. `url` is the backup's own URL, for messages.
 */
export async function openBackupTree(session: Session, from: string, signal: AbortSignal): Promise<{ tree: BackupTree; url: string }> {
  const loc = parseS3Url(from, '--from');
  const url = formatS3Url(loc);
  const parent = loc.key.slice(0, loc.key.lastIndexOf('/') + 1);
  const catalog = await catalogOf(session, loc.bucket, parent, loc, signal);
  const { entry, only } = pickBackup(catalog.entries, url, loc.key);
  if (!entry.manifest || entry.status === 'incomplete') {
    throw new BackupVerifyError(`${entry.url} has no manifest (a failed, killed or still running backup): run --from reads only whole backups`);
  }
  if (entry.kind === 'snapshot' || only) {
    throw new UsageError(`${entry.url} is a ${entry.kind === 'snapshot' ? 'snapshot' : 'single object'}; run --from reads run and serve backups (use diskless restore or get)`);
  }
  const tree = new BackupTree(catalog.bucket, itemsOf(entry, catalog, undefined), Date.parse(entry.manifest.endedAt) || Date.now());
  return { tree, url: entry.url };
}
