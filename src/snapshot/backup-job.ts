import { statfsSync } from 'node:fs';
import { DisklessError, describeError } from '../errors.js';
import type { ObjectSummary } from '../upload/multipart-object.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { PartPlan } from '../upload/part-planner.js';
import { uploadStream } from '../upload/stream-uploader.js';
import type { UploadContext } from '../upload/upload-context.js';
import { CleanupStack, describeCleanupFailures } from '../util/cleanup-stack.js';
import { prepareBtrfs } from './method-btrfs.js';
import { prepareFsfreeze } from './method-fsfreeze.js';
import { prepareLive } from './method-none.js';
import { prepareLvm } from './snapshot-lvm.js';
import type { MethodEnv, PreparedSource } from './source.js';
import { startTar, type Compression, type TarStream } from './tar-stream.js';
import type { VolumePlan } from './volume-plan.js';

export interface JobEnv extends Omit<MethodEnv, 'stack'> {
  upload: UploadContext;
  bucket: string;
  plan: PartPlan;
  compress?: Compression;
  sha256?: boolean;
  settings?: WriteSettings;
  signal?: AbortSignal;
  /** Replaces the tar command (tests); the directory is appended as in tarArgv. */
  tarArgv?: (dir: string) => string[];
}

export interface VolumeResult {
  volume: VolumePlan;
  key: string;
  size: number;
  etag: string;
  crc32c: string;
  sha256?: string;
  parts: number;
  partSizes: number[];
  objects: ObjectSummary[];
  /** tar, then the compressor if any. */
  commands: string[][];
  details: Record<string, unknown>;
  maxFillPercent?: number;
  elapsedMs: number;
  /** Undo steps that failed (the archive is fine; the next run removes what they left). */
  cleanupFailures: string[];
}

export function prepareSource(volume: VolumePlan, env: MethodEnv): Promise<PreparedSource> {
  switch (volume.method) {
    case 'lvm':
      return prepareLvm(volume, env);
    case 'btrfs':
      return prepareBtrfs(volume, env);
    case 'fsfreeze':
      return prepareFsfreeze(volume, env);
    case 'none':
      return Promise.resolve(prepareLive(volume, env));
  }
}

/**
 * One volume: prepare a consistent source (snapshot, freeze…), stream tar of it through the
 * object writer, commit only if tar (and the compressor) exited 0 and the source stayed
 * consistent to the end, then undo everything in reverse order: stop tar, stop the watch,
 * unmount, remove the snapshot (or thaw). The undo runs on every path: success, tar failure,
 * upload failure, the fill watch, the freeze timeout, and the caller's signal (SIGINT/SIGTERM).
 */
export async function backupVolume(volume: VolumePlan, env: JobEnv): Promise<VolumeResult> {
  const started = Date.now();
  const stack = new CleanupStack();
  stack.bindToExit((line) => env.log.warn(line));
  let source: PreparedSource | undefined;
  let tar: TarStream | undefined;
  let abortListener: (() => void) | undefined;
  let combined: AbortSignal | undefined;
  try {
    env.signal?.throwIfAborted();
    source = await prepareSource(volume, { ...env, stack });
    env.signal?.throwIfAborted();
    const dir = source.dir;
    expectUsedSpace(env, volume, dir);
    tar = startTar(dir, {
      ...(env.compress ? { compress: env.compress } : {}),
      allowChanged: source.allowChanged,
      ...(env.tarArgv ? { tarArgv: env.tarArgv(dir) } : {}),
    });
    const t = tar;
    stack.defer({ name: 'stop tar', run: () => t.stop(), runSync: () => t.killNow() });
    // Aborting must not wait for the next chunk of tar: a tar stuck on a failing device would
    // never send one. Killing it ends the pipe, and the upload sees the abort at once.
    combined = env.signal ? AbortSignal.any([env.signal, source.failed]) : source.failed;
    abortListener = () => void t.stop();
    combined.addEventListener('abort', abortListener, { once: true });
    const src = source;
    const result = await uploadStream(env.upload, t.output, {
      target: { bucket: env.bucket, key: volume.key },
      plan: env.plan,
      ...(env.settings ? { settings: env.settings } : {}),
      ...(env.sha256 ? { sha256: true } : {}),
      signal: combined,
      beforeCommit: async () => {
        await src.verify();
        await t.succeeded();
        await src.verify();
      },
    });
    const first = result.objects[0];
    return {
      volume,
      key: volume.key,
      size: result.size,
      etag: result.etag,
      crc32c: result.crc32c,
      ...(result.sha256 ? { sha256: result.sha256 } : {}),
      parts: result.parts,
      partSizes: first?.partSizes ?? [],
      objects: result.objects,
      commands: t.commands,
      details: source.details,
      ...(source.maxFillPercent ? { maxFillPercent: source.maxFillPercent() } : {}),
      elapsedMs: Date.now() - started,
      cleanupFailures: await finish(),
    };
  } catch (err) {
    await finish();
    throw explainFailure(err, source);
  }

  async function finish(): Promise<string[]> {
    if (abortListener) combined?.removeEventListener('abort', abortListener);
    abortListener = undefined;
    const failures = await stack.dispose();
    tar?.close();
    if (failures.length > 0) {
      env.log.warn(`${volume.label}: cleanup incomplete (${describeCleanupFailures(failures)}); the next diskless snapshot run removes what is left`);
    }
    return failures.map((f) => `${f.name}: ${describeError(f.error)}`);
  }
}

/**
 * For the progress line's ETA: an uncompressed archive of a whole filesystem (an LVM snapshot, a frozen mount) is about
 * the filesystem's used space (tar adds headers, sparse files shrink it). Other cases give no estimate.
 */
function expectUsedSpace(env: JobEnv, volume: VolumePlan, dir: string): void {
  if (!env.upload.meter || env.compress || (volume.method !== 'lvm' && volume.method !== 'fsfreeze')) return;
  try {
    const st = statfsSync(dir);
    env.upload.meter.expect((st.blocks - st.bfree) * st.bsize);
  } catch {
    // No estimate: the progress line shows no ETA.
  }
}

/**
 * When the source went bad (the snapshot filled up, the freeze timed out), tar typically fails
 * too (I/O errors on an invalidated snapshot, or killed by us): the source's reason is the one
 * that tells the user what to change. An interruption stays an interruption.
 */
function explainFailure(err: unknown, source: PreparedSource | undefined): unknown {
  if (DisklessError.is(err) && err.category === 'interrupted') return err;
  if (source?.failed.aborted) return source.failed.reason;
  return err;
}
