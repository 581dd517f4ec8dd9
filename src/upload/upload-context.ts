import type { Logger } from '../util/log.js';
import type { Limiter } from '../util/limiter.js';
import type { MemoryBudget } from './memory-budget.js';
import type { ObjectStore } from './object-store.js';
import type { RetryPolicy } from './retry.js';
import type { TransferMeter } from './transfer-meter.js';
import type { UploadJournal } from './upload-journal.js';

/** What every upload in a process shares: the store, the memory budget, the request slots. */
export interface UploadContext {
  store: ObjectStore;
  budget: MemoryBudget;
  /** Concurrent requests that carry data (parts, single puts). */
  requests: Limiter;
  retry: RetryPolicy;
  /** Records open multipart uploads so a later run can abort what a killed run left. */
  journal?: UploadJournal;
  log: Logger;
  /** Counts bytes read and acknowledged by the store, and streams in flight, for progress reports. */
  meter?: TransferMeter;
  /**
   * Ask for CRC32C part checksums when each multipart upload begins (the write check found that the store takes
   * them); an upload the store begins without them carries Content-MD5 (part-checksum.ts).
   */
  crc32cParts?: boolean;
}
