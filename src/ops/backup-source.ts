import type { AgeDecryptor } from '../crypto/age-stream.js';
import type { Identity } from '../crypto/recipients.js';
import type { ReadContext } from '../download/object-reader.js';
import { BackupVerifyError, UsageError } from '../errors.js';
import { recordFailures, type ReadFailure } from '../ingest/read-back.js';
import type { ReadDeps } from '../ingest/read-session.js';
import { UncheckedReads } from '../ingest/unchecked-reads.js';
import { BackupTree } from '../ingest/backup-tree.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import type { MemoryBudget } from '../upload/memory-budget.js';
import type { Limiter } from '../util/limiter.js';
import { catalogOf } from './catalog-of.js';
import type { RestoreItem } from '../restore/restore-item.js';
import { decryptors, itemsOf, pickBackup } from './restore.js';
import type { Session } from './session.js';

export interface BackupSource {
  tree: BackupTree;
  /** The backup's own URL, for messages. */
  url: string;
  /** An encrypted file's decryptor (one per read), from `identities`. */
  decryptor: (item: RestoreItem) => AgeDecryptor | undefined;
}

/**
 * The backup `run --from URL` shows under its directory: the run or serve backup at URL, which must be
 * whole (it has a manifest), as a BackupTree. An encrypted backup without a matching identity in
 * `identities` fails here, naming its recipients (exit 7), before the command starts.
 */
export async function openBackupTree(session: Session, from: string, signal: AbortSignal, identities: readonly Identity[] = []): Promise<BackupSource> {
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
  const items = itemsOf(entry, catalog, undefined);
  const decryptor = decryptors(items, entry.url, identities);
  const tree = new BackupTree(catalog.bucket, items, Date.parse(entry.manifest.endedAt) || Date.now());
  return { tree, url: entry.url, decryptor };
}

/** What the ingest server needs to serve the reads of `backup` (its `reads`): each failed read goes to `failures`. */
export type BackupReads = ReadDeps & { tree: BackupTree; unchecked: UncheckedReads };

export function backupReads(backup: BackupSource, read: ReadContext, requests: Limiter, memory: MemoryBudget, signal: AbortSignal, failures: ReadFailure[]): BackupReads {
  return {
    tree: backup.tree,
    read,
    requests,
    memory,
    signal,
    onFailure: recordFailures(backup.tree.bucket, failures),
    decryptor: backup.decryptor,
    unchecked: new UncheckedReads(),
  };
}
