import { PreflightError } from '../errors.js';
import { MANIFEST_NAME } from '../manifest/manifest.js';
import { explain } from '../preflight.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { ObjectRef } from '../upload/object-store.js';
import type { OwnedRef } from '../upload/owned-object.js';
import { withRetry } from '../upload/retry.js';
import type { Session } from './session.js';

/** Where a command is about to store a backup: one object (put, snapshot archives) or a run's prefix. */
export type BackupTarget = { objects: readonly ObjectRef[] } | { bucket: string; prefix: string };

/** The object whose presence means "a backup is already there": the object itself, or the run's manifest. */
export function backupMarkers(target: BackupTarget): ObjectRef[] {
  return 'objects' in target ? [...target.objects] : [{ bucket: target.bucket, key: target.prefix + MANIFEST_NAME }];
}

/**
 * A backup is immutable: before anything is read, refuses a target that already holds one
 * (PreflightError, exit 3), unless `overwrite`. Returns the marker found (with --overwrite), if any.
 */
export async function refuseExistingBackup(session: Session, target: BackupTarget, overwrite: boolean): Promise<ObjectRef | undefined> {
  for (const ref of backupMarkers(target)) {
    let head;
    try {
      head = await withRetry(() => session.store.headObject(ref), session.retry, { what: `HeadObject ${ref.key}` });
    } catch (err) {
      throw explain(err, ref, session.store);
    }
    if (!head) continue;
    if (overwrite) return ref;
    const [what, example] =
      'objects' in target
        ? [`${formatS3Url(ref)} already exists`, `s3://${ref.bucket}/${ref.key}-{date}`]
        : [`s3://${ref.bucket}/${target.prefix} already holds a backup (${formatS3Url(ref)})`, `s3://${ref.bucket}/${target.prefix}{run}/`];
    throw new PreflightError(
      `${what}; diskless never replaces a stored backup unless told to: choose a fresh target ` +
        `(placeholders {host} {date} {time} {run}, e.g. ${example}) or pass --overwrite`,
    );
  }
  return undefined;
}

/**
 * The objects of each file a run's manifest records (object 0 first, then a chain's pieces), with
 * the ETags recorded: after a new backup replaced it (--overwrite), what is still exactly that is
 * removed. Unreadable manifests give nothing (nothing is then removed).
 */
export async function recordedFiles(session: Session, manifest: ObjectRef): Promise<OwnedRef[][]> {
  try {
    const got = await withRetry(() => session.store.getObject(manifest), session.retry, { what: `GetObject ${manifest.key}` });
    if (!got) return [];
    const chunks: Buffer[] = [];
    for await (const c of got.body) chunks.push(Buffer.from(c));
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { files?: Array<{ key: string; etag: string; chain?: Array<{ key: string; etag: string }> }> };
    return (parsed.files ?? []).map((f) =>
      (f.chain ?? [{ key: f.key, etag: f.etag }]).map((o, i) => ({ bucket: manifest.bucket, key: o.key, etag: i === 0 ? f.etag : o.etag })),
    );
  } catch (err) {
    session.log.warn(`could not read ${formatS3Url(manifest)} (${err instanceof Error ? err.message : String(err)}); the files of the backup it lists are left in place`);
    return [];
  }
}
