import { buildCatalog, type Catalog } from '../catalog/catalog.js';
import { explain } from '../preflight.js';
import type { ObjectRef } from '../upload/object-store.js';
import type { Session } from './session.js';

/**
 * The catalogue of the backups under `prefix` (one listing), for ls, verify, restore and prune; a store that refuses
 * the listing is explained as a preflight failure naming `where` (the URL the user gave).
 */
export async function catalogOf(session: Session, bucket: string, prefix: string, where: ObjectRef, signal?: AbortSignal): Promise<Catalog> {
  try {
    return await buildCatalog(session, bucket, prefix, signal);
  } catch (err) {
    throw explain(err, where, session.store);
  }
}
