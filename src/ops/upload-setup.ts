import { checkStateDir, checkWritable } from '../preflight.js';
import { abortLeftovers } from '../upload/leftovers.js';
import { MemoryBudget } from '../upload/memory-budget.js';
import type { ObjectRef, WriteSettings } from '../upload/object-store.js';
import { DEFAULT_MEMORY_BUDGET, planParts, type PartPlan, type PartPlanOptions } from '../upload/part-planner.js';
import type { UploadContext } from '../upload/upload-context.js';
import { UploadJournal, defaultStateDir, journalDir } from '../upload/upload-journal.js';
import type { TransferMeter } from '../upload/transfer-meter.js';
import { Limiter } from '../util/limiter.js';
import { PreflightError } from '../errors.js';
import type { PartChecksum } from '../upload/part-checksum.js';
import type { Session, SessionOptions } from './session.js';

export const DEFAULT_CONCURRENCY = 4;

/** What every uploading command (put, run, serve, snapshot) takes about its uploads. */
export interface UploadOptions extends SessionOptions, Omit<PartPlanOptions, 'memoryBudget'> {
  /** The one memory budget of the process (default DEFAULT_MEMORY_BUDGET, 48 MiB). */
  memory?: number;
  /** Requests carrying data at once, over all uploads (default 4). */
  concurrency?: number;
  settings?: WriteSettings;
  /** Where the journal of open uploads lives; see upload-journal.ts. */
  stateDir?: string;
  signal?: AbortSignal;
  /**
   * Replace a backup already at the target (default: refuse it in preflight). The old backup
   * stays valid until the new one commits.
   */
  overwrite?: boolean;
  /** Counts what the uploads read and the store acknowledged (the CLI's progress line reads it). */
  meter?: TransferMeter;
  /** How parts prove their bytes to the store (part-checksum.ts; default 'auto'). */
  partChecksum?: PartChecksum;
}

export interface PlannedUpload {
  plan: PartPlan;
  memory: number;
  concurrency: number;
}

/** Checks the part and memory settings and the state directory; throws a UsageError before anything is sent. */
export function planUpload(options: UploadOptions): PlannedUpload {
  const memory = options.memory ?? DEFAULT_MEMORY_BUDGET;
  const plan = planParts({ ...options, memoryBudget: memory });
  checkStateDir(journalDir(options.stateDir ?? defaultStateDir()), options.stateDir);
  return { plan, memory, concurrency: options.concurrency ?? DEFAULT_CONCURRENCY };
}

/**
 * The shared start of every upload: the plan's warnings, the write check beside `probe`, the
 * uploads earlier runs left open aborted, and the context (store, one memory budget, request slots,
 * journal) every upload of the command shares.
 */
export async function prepareUpload(session: Session, options: UploadOptions, planned: PlannedUpload, probe: ObjectRef): Promise<UploadContext> {
  const { store, retry, log } = session;
  for (const w of planned.plan.warnings) log.warn(w);
  const journal = new UploadJournal(journalDir(options.stateDir ?? defaultStateDir()));
  const mode = options.partChecksum ?? 'auto';
  const { crc32c } = await checkWritable(store, probe, retry, { journal, log, crc32c: mode !== 'md5' });
  if (mode === 'crc32c' && !crc32c) {
    throw new PreflightError(
      `--part-checksum crc32c: the store at ${store.description} did not take CRC32C part checksums (its CreateMultipartUpload answer names ` +
        'no checksum algorithm, as Ceph before 19 and Swift do), so it would not verify them; use --part-checksum md5 (or auto)',
    );
  }
  log.debug(crc32c ? 'parts carry CRC32C checksums the store verifies (no MD5 computed)' : 'parts carry Content-MD5');
  await abortLeftovers(journal, store, log);
  return {
    store,
    budget: new MemoryBudget(planned.memory),
    requests: new Limiter(planned.concurrency),
    retry,
    journal,
    log,
    crc32cParts: crc32c,
    ...(options.meter ? { meter: options.meter } : {}),
  };
}
