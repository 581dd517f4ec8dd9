import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { DisklessError, UsageError, describeError } from '../errors.js';
import { normalisePrefix } from '../ingest/object-key.js';
import { formatS3Url, parseS3Url } from '../s3/s3-url.js';
import { backupVolume, type VolumeResult } from '../snapshot/backup-job.js';
import { execRunner, type CommandRunner } from '../snapshot/command-runner.js';
import { discoverVolumes, type VolumeRequest } from '../snapshot/discover.js';
import { removeLeftovers } from '../snapshot/leftovers.js';
import { checkFreezeTargets, checkLocalPrerequisites, checkSnapshotSpace } from '../snapshot/local-preflight.js';
import { readMountinfo, type MountEntry } from '../snapshot/mountinfo.js';
import { DEFAULT_WORK_DIR, RunDir } from '../snapshot/run-dir.js';
import type { Manifest } from '../manifest/manifest.js';
import { storeJson } from '../manifest/store-manifest.js';
import { buildSnapshotManifest, manifestKey } from '../snapshot/snapshot-manifest.js';
import { compressorArgv, tarArgv, type Compression } from '../snapshot/tar-stream.js';
import {
  DEFAULT_KEY_TEMPLATE,
  DEFAULT_SNAPSHOT_SIZE,
  checkKeyTemplate,
  keyTimestamp,
  type SnapshotMethod,
  type SnapshotSize,
  type VolumePlan,
} from '../snapshot/volume-plan.js';
import { deleteStoredStream } from '../upload/owned-object.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { PartPlanOptions } from '../upload/part-planner.js';
import { formatBytes } from '../util/size.js';
import { refuseExistingBackup } from './existing-backup.js';
import { openSession, type SessionOptions } from './session.js';
import { planUpload, prepareUpload } from './upload-setup.js';
import { checkRecipients } from '../crypto/recipients.js';
import { defaultStateDir } from '../upload/upload-journal.js';
import type { TransferMeter } from '../upload/transfer-meter.js';
import { DEFAULT_FILL_ABORT_PERCENT } from './command-defaults.js';

export const DEFAULT_FILL_INTERVAL_MS = 1_000;
export const DEFAULT_FREEZE_TIMEOUT_MS = 60_000;

export interface SnapshotOptions extends SessionOptions, Omit<PartPlanOptions, 'memoryBudget'> {
  /** `s3://bucket/prefix/`: archives go to `prefix/<key template>`. */
  to: string;
  method?: SnapshotMethod;
  /** `VG/LV`, for --method lvm. */
  volumes?: readonly string[];
  /** Mount points (lvm, fsfreeze), subvolumes (btrfs) or directories (none). */
  mounts?: readonly string[];
  /** Every mounted LV (--method lvm). */
  all?: boolean;
  /** Copy-on-write space of classic snapshots (default 10%ORIGIN). */
  snapshotSize?: SnapshotSize;
  compress?: Compression;
  /** Key template below the prefix (volume-plan.ts), default `{host}/{name}-{timestamp}{ext}`. */
  keyTemplate?: string;
  /** Stop a volume when its classic snapshot (or thin pool) reaches this usage (default 90). */
  fillAbortPercent?: number;
  fillIntervalMs?: number;
  /** --method fsfreeze: longest freeze (default 60 s); the volume fails past it. */
  freezeTimeoutMs?: number;
  /** Parent of the private run directories (default /run/diskless-snapshot). */
  workDir?: string;
  /** Plan (and check) only: no snapshot, no upload. */
  dryRun?: boolean;
  /** Back up the remaining volumes after one fails, and keep the archives that were stored. */
  keepGoing?: boolean;
  memory?: number;
  concurrency?: number;
  sha256?: boolean;
  settings?: WriteSettings;
  stateDir?: string;
  signal?: AbortSignal;
  /** Replace archives already at their keys (default: refuse in preflight). */
  overwrite?: boolean;
  /** Counts what the archives read and the store acknowledged; each volume adds its used space as the expected size (progress). */
  meter?: TransferMeter;
  /** Encrypt each archive with age for these recipients (age1…), after tar and the compressor. */
  encryptTo?: readonly string[];
  /** Injected for tests. */
  run?: CommandRunner;
  host?: string;
  now?: Date;
  uid?: number;
  readMounts?: () => MountEntry[];
  /** Replaces tar's argv (tests); receives the directory. */
  tarArgv?: (dir: string) => string[];
}

export interface SnapshotResult {
  bucket: string;
  prefix: string;
  dryRun: boolean;
  plan: VolumePlan[];
  /** The tar (and compressor) command of each planned volume, for --dry-run output. */
  commands: string[][][];
  leftoversRemoved: string[];
  volumes: VolumeResult[];
  manifestKey: string;
  manifest?: Manifest;
  elapsedMs: number;
}

/**
 * `diskless snapshot`: for each volume, a consistent read-only copy (LVM snapshot, btrfs
 * snapshot, freeze, or the live tree), streamed as tar into its own object; then a manifest,
 * written last and only if every volume was stored.
 *
 * Partial failure: by default the run stops at the first volume that fails, deletes the archives
 * it already stored and writes no manifest (a prefix without a manifest is not a backup, as with
 * `run`). With `keepGoing`, every volume is attempted and the stored archives are kept (each one
 * verified on its own), but there is still no manifest, and the run fails.
 */
export async function snapshot(options: SnapshotOptions): Promise<SnapshotResult> {
  const started = Date.now();
  const run = options.run ?? execRunner;
  const method = options.method ?? 'lvm';
  const loc = parseS3Url(options.to, '--to');
  const prefix = normalisePrefix(loc.key);
  const template = options.keyTemplate ?? DEFAULT_KEY_TEMPLATE;
  checkKeyTemplate(template);
  const fillAbortPercent = options.fillAbortPercent ?? DEFAULT_FILL_ABORT_PERCENT;
  if (!(fillAbortPercent > 0 && fillAbortPercent < 100)) throw new UsageError('--fill-abort must be a percentage above 0 and below 100');
  const host = options.host ?? hostname().split('.')[0]!;
  const now = options.now ?? new Date();
  const timestamp = keyTimestamp(now);
  const workDir = options.workDir ?? DEFAULT_WORK_DIR;
  const stateDir = options.stateDir ?? defaultStateDir();
  const planned = planUpload({ ...options, stateDir });
  const plan = planned.plan;
  const recipients = options.encryptTo?.length ? checkRecipients(options.encryptTo, (r) => `recipient ${r}`) : undefined;
  const mounts = options.readMounts ?? readMountinfo;
  const request: VolumeRequest = { method, volumes: options.volumes ?? [], mounts: options.mounts ?? [], all: options.all ?? false };
  const mKey = manifestKey(prefix, host, timestamp);

  const session = await openSession(options, planned.concurrency + 2);
  const { log } = session;
  try {
    await checkLocalPrerequisites(run, method, options.compress, options.uid ?? process.getuid?.() ?? 0, log);
    const upload = await prepareUpload(session, { ...options, stateDir }, planned, { bucket: loc.bucket, key: mKey });

    const keys = { prefix, template, host, timestamp, snapshotSize: options.snapshotSize ?? DEFAULT_SNAPSHOT_SIZE, ...(options.compress ? { compress: options.compress } : {}) };
    // Leftovers first: a dead run's snapshot holds extents the new ones need, and its mounts would confuse discovery.
    const btrfsPaths = method === 'btrfs' ? request.mounts : [];
    const leftoversRemoved = options.dryRun ? [] : await removeLeftovers({ run, log, workDir, lvm: method === 'lvm', btrfsPaths, mounts });
    const discovery = await discoverVolumes(request, { run, mounts: mounts(), log }, keys);
    checkSnapshotSpace(discovery.volumes, discovery.vgs, discovery.lvs, fillAbortPercent, log);
    checkFreezeTargets(discovery.volumes, [existingAncestor(stateDir), existingAncestor(workDir)]);
    const targets = [{ bucket: loc.bucket, key: mKey }, ...discovery.volumes.map((v) => ({ bucket: loc.bucket, key: v.key }))];
    await refuseExistingBackup(session, { objects: targets }, options.overwrite ?? false);
    const commands = discovery.volumes.map(() => [tarArgv('<snapshot>'), ...(options.compress ? [compressorArgv(options.compress)] : [])]);
    const base = { bucket: loc.bucket, prefix, plan: discovery.volumes, commands, leftoversRemoved, manifestKey: mKey };
    if (options.dryRun) return { ...base, dryRun: true, volumes: [], elapsedMs: Date.now() - started };

    const runDir = RunDir.create(workDir);
    const results: VolumeResult[] = [];
    const failures: Array<{ label: string; error: unknown }> = [];
    try {
      for (const volume of discovery.volumes) {
        try {
          const r = await backupVolume(volume, {
            run, log, runDir, timestamp, upload, bucket: loc.bucket, plan,
            fillAbortPercent,
            fillIntervalMs: options.fillIntervalMs ?? DEFAULT_FILL_INTERVAL_MS,
            freezeTimeoutMs: options.freezeTimeoutMs ?? DEFAULT_FREEZE_TIMEOUT_MS,
            ...(options.compress ? { compress: options.compress } : {}),
            ...(options.sha256 ? { sha256: true } : {}),
            ...(options.settings ? { settings: options.settings } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.tarArgv ? { tarArgv: options.tarArgv } : {}),
            ...(recipients ? { recipients } : {}),
          });
          results.push(r);
          log.info(
            `${volume.label}: stored ${formatS3Url({ bucket: loc.bucket, key: r.key })}: ${formatBytes(r.size)} (${r.size} bytes), ` +
              `${(r.elapsedMs / 1000).toFixed(1)} s; CRC32C ${r.crc32c}` +
              (r.maxFillPercent !== undefined
                ? `; ${r.details['kind'] === 'thin' ? 'thin pool' : 'snapshot'} at most ${r.maxFillPercent.toFixed(1)}% full`
                : ''),
          );
        } catch (error) {
          failures.push({ label: volume.label, error });
          const interrupted = DisklessError.is(error) && error.category === 'interrupted';
          if (interrupted || !options.keepGoing) break;
          // With --keep-going the run goes on: say now what failed (the final error repeats the first one).
          log.warn(`${volume.label}: failed: ${describeError(error)}; going on with the next volume`);
        }
      }
    } finally {
      runDir.remove(mounts);
    }

    if (failures.length > 0) {
      if (!options.keepGoing && results.length > 0) {
        for (const r of results) await deleteStoredStream(session, r.objects).catch(() => undefined);
        log.info(`deleted the ${results.length} archive(s) this run had stored (keep them with --keep-going)`);
      }
      const first = failures[0]!;
      const skipped = discovery.volumes.length - results.length - failures.length;
      const summary =
        `${failures.length} of ${discovery.volumes.length} volume(s) failed (${failures.map((f) => f.label).join(', ')})` +
        (skipped > 0 ? `, ${skipped} not attempted` : '') +
        `; no manifest written${options.keepGoing && results.length > 0 ? `; ${results.length} archive(s) kept` : ''}`;
      throw rewrap(first.error, `${first.label}: ${describeError(first.error)}; ${summary}`);
    }

    const manifest = buildSnapshotManifest({ startedAt: now, bucket: loc.bucket, prefix, host, results, ...(options.settings ? { settings: options.settings } : {}) });
    await storeJson(upload, { bucket: loc.bucket, key: mKey }, manifest, options.settings);
    log.info(
      `stored ${results.length} volume(s), ${formatBytes(manifest.totals.bytes)} (${manifest.totals.bytes} bytes), and the manifest ` +
        `${formatS3Url({ bucket: loc.bucket, key: mKey })} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return { ...base, dryRun: false, volumes: results, manifest, elapsedMs: Date.now() - started };
  } finally {
    session.close();
  }
}

/** The first failure, with the run's summary as its message (same class, so the exit code stays that of the failure). */
function rewrap(err: unknown, message: string): unknown {
  if (err instanceof Error) {
    err.message = message;
    return err;
  }
  return new Error(message, { cause: err });
}

function existingAncestor(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      statSync(p);
      return p;
    } catch {
      if (p === dirname(p)) return p;
    }
  }
}
