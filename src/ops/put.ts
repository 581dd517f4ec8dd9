import { checkWritable } from '../preflight.js';
import { startProducer } from '../process/producer.js';
import { parseObjectUrl } from '../s3/s3-url.js';
import { abortLeftovers } from '../upload/leftovers.js';
import { MemoryBudget } from '../upload/memory-budget.js';
import type { WriteSettings } from '../upload/object-store.js';
import { DEFAULT_MEMORY_BUDGET, planParts, type PartPlanOptions } from '../upload/part-planner.js';
import { uploadStream, type StreamUploadResult } from '../upload/stream-uploader.js';
import { UploadJournal, defaultStateDir, journalDir } from '../upload/upload-journal.js';
import { Limiter } from '../util/limiter.js';
import { openSession, type SessionOptions } from './session.js';

export const DEFAULT_CONCURRENCY = 4;

export interface PutOptions extends SessionOptions, Omit<PartPlanOptions, 'memoryBudget'> {
  /** `s3://bucket/key` */
  url: string;
  /** The bytes to store: a stream, a file descriptor (e.g. stdin), or a command whose stdout to store. */
  input: { stream: AsyncIterable<Uint8Array> } | { fd: number } | { command: readonly string[] };
  memory?: number;
  concurrency?: number;
  sha256?: boolean;
  settings?: WriteSettings;
  /** Where the journal of open uploads lives; see upload-journal.ts. */
  stateDir?: string;
  signal?: AbortSignal;
  onProgress?: (p: { bytesRead: number }) => void;
}

/**
 * `diskless put`: checks the target before reading anything, streams the input into one object
 * (or a chain), and commits only if the input ended cleanly and the command (if any) exited 0.
 */
export async function put(options: PutOptions): Promise<StreamUploadResult> {
  const target = parseObjectUrl(options.url, 'target');
  const memory = options.memory ?? DEFAULT_MEMORY_BUDGET;
  const plan = planParts({ ...options, memoryBudget: memory });
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const requests = new Limiter(concurrency);
  const session = await openSession(options, concurrency + 2);
  try {
    const { store, retry, log } = session;
    for (const w of plan.warnings) log.warn(w);
    await checkWritable(store, target, retry);
    const journal = new UploadJournal(journalDir(options.stateDir ?? defaultStateDir()));
    await abortLeftovers(journal, store, log);
    log.debug(`plan: ${plan.describe()}`);

    const producer = 'command' in options.input ? startProducer(options.input.command) : undefined;
    const input = options.input;
    const source = producer ? producer.output : 'stream' in input ? input.stream : { fd: (input as { fd: number }).fd };
    const ctx = { store, budget: new MemoryBudget(memory), requests, retry, journal, log };
    try {
      return await uploadStream(ctx, source, {
        target,
        plan,
        ...(options.settings ? { settings: options.settings } : {}),
        ...(options.sha256 ? { sha256: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(producer ? { beforeCommit: () => producer.succeeded() } : {}),
      });
    } catch (err) {
      // An upload that failed must not leave the command blocked on a pipe nobody reads.
      producer?.stop();
      throw err;
    } finally {
      producer?.close();
    }
  } finally {
    session.close();
  }
}
