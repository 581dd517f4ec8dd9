import type { EncryptionRecord } from '../crypto/age-stream.js';
import { describeError } from '../errors.js';
import { formatS3Url } from '../s3/s3-url.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { StreamUploadResult } from '../upload/stream-uploader.js';
import type { UploadContext } from '../upload/upload-context.js';
import { PUT_MANIFEST_SUFFIX, buildManifest, type Manifest } from './manifest.js';
import { storeJson } from './store-manifest.js';

export function putManifestKey(key: string): string {
  return key + PUT_MANIFEST_SUFFIX;
}

/**
 * `put`'s manifest: a sidecar `KEY.diskless.json`, written once the object is committed. The
 * object is whole without it (a visible KEY always is); if the sidecar cannot be written, the
 * backup stays and `ls` lists it as incomplete, so this warns instead of failing the put.
 */
export async function storePutManifest(
  ctx: UploadContext,
  input: { result: StreamUploadResult; startedAt: Date; command: readonly string[] | null; settings?: WriteSettings; encryption?: EncryptionRecord },
): Promise<Manifest | undefined> {
  const r = input.result;
  const manifest = buildManifest({
    kind: 'put',
    command: input.command,
    exitStatus: input.command ? 0 : null,
    startedAt: input.startedAt,
    bucket: r.bucket,
    prefix: r.key,
    ...(input.settings ? { settings: input.settings } : {}),
    files: [
      {
        path: r.key.slice(r.key.lastIndexOf('/') + 1),
        key: r.key,
        size: r.size,
        crc32c: r.crc32c,
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
        objects: r.objects,
        end: input.command ? 'exit' : 'closed',
        ...(input.encryption ? { encryption: input.encryption } : {}),
      },
    ],
  });
  const target = { bucket: r.bucket, key: putManifestKey(r.key) };
  try {
    await storeJson(ctx, target, manifest, input.settings);
    return manifest;
  } catch (err) {
    ctx.log.warn(
      `the object is stored, but its manifest ${formatS3Url(target)} could not be written (${describeError(err)}); ` +
        'diskless ls will list the object as incomplete',
    );
    return undefined;
  }
}
