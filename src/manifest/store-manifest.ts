import type { ObjectRef, WriteSettings } from '../upload/object-store.js';
import { planParts } from '../upload/part-planner.js';
import { uploadStream } from '../upload/stream-uploader.js';
import type { UploadContext } from '../upload/upload-context.js';

/**
 * Stores a small JSON document (a manifest, a verification record) with the encryption and
 * metadata of the backup's objects, through the one verified upload path. Not with their storage
 * class: a manifest in GLACIER could not be read by `ls` and `verify` without a restore.
 */
export async function storeJson(ctx: UploadContext, target: ObjectRef, value: unknown, settings: WriteSettings = {}): Promise<void> {
  const body = Buffer.from(JSON.stringify(value, null, 1) + '\n');
  const { storageClass: _objectsClass, ...rest } = settings;
  // Not counted by the progress meter: the progress line is about the backup's own files.
  const { meter: _meter, ...unmetered } = ctx;
  await uploadStream(unmetered, (async function* () {
    yield body;
  })(), { target, plan: planParts(), settings: { ...rest, contentType: 'application/json' } });
}
