import { ObjectTooLargeError, UsageError } from '../errors.js';
import { formatBytes, MiB } from '../util/size.js';
import { S3_MAX_PART_SIZE, S3_MAX_PARTS, S3_MIN_PART_SIZE } from './s3-limits.js';

export const DEFAULT_PART_SIZE = 8 * MiB;
/**
 * 48 MiB: one stream of 8 MiB parts holds 40 MiB of it with the default 4 request slots (4 in flight,
 * 1 filling; streamMemoryCap), and 8 or 32 files at once peak at ~116-119 MiB of RSS (64 MiB: ~133-136).
 * A file sets aside one slab until it passes it (memory-budget.ts, admit), so the files a dump holds
 * open but barely writes do not each take a minimum part: under 40 MiB, before that, a `mydumper -t 4`
 * run holding 14 files open stalled (docs/BENCHMARKS.md, "Memory, goal 4").
 */
export const DEFAULT_MEMORY_BUDGET = 48 * MiB;

export interface PartPlanOptions {
  /** A part size fixed by the user; undefined means auto (start at 8 MiB and grow). */
  partSize?: number;
  /** Most parts one object may have (10,000 on AWS, 1,000 on Scaleway). */
  maxParts?: number;
  /** The memory budget of the whole process; a part may use at most half of it. */
  memoryBudget?: number;
  /** Keep every non-final part of an object the same size (Cloudflare R2 rejects others). */
  equalParts?: boolean;
  /** The expected stream size: picks one fixed part size that fits one object when memory allows. */
  expectedSize?: number;
  /** false (`--no-split`): a stream that outgrows one object fails instead of continuing in another. */
  split?: boolean;
}

/** Where the next part goes: which object of the chain, which part number, how many bytes. */
export interface PartSlot {
  objectIndex: number;
  partNumber: number;
  size: number;
}

export interface PartPlan {
  readonly maxParts: number;
  /** Largest part the memory budget allows (one part filling while one uploads). */
  readonly maxPartSize: number;
  readonly split: boolean;
  readonly equalParts: boolean;
  readonly warnings: readonly string[];
  /** Size of part `partNumber` (1-based) of object `objectIndex` (0 = the object at the key). */
  partSize(objectIndex: number, partNumber: number): number;
  /** Bytes one object of the chain holds at most. */
  objectCapacity(objectIndex: number): number;
  describe(): string;
}

/**
 * Chooses part sizes for a stream of unknown length under a memory budget.
 *
 * Auto mode starts at 8 MiB (small streams stay cheap and fast) and doubles every tenth of the
 * part limit, up to half the memory budget, so one object holds far more than 10,000 × 8 MiB
 * (78 GiB, where `aws s3 cp -` fails). Past one object's capacity the stream continues in
 * continuation objects (see chain.ts) unless `split` is false. A fixed or equal part size is
 * used when the user gives one, asks for equal parts, or gives an expected size.
 */
export function planParts(options: PartPlanOptions = {}): PartPlan {
  const maxParts = options.maxParts ?? S3_MAX_PARTS;
  const memory = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  const split = options.split ?? true;
  const equalParts = options.equalParts ?? false;
  const warnings: string[] = [];

  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > S3_MAX_PARTS) {
    throw new UsageError(`--max-parts must be a whole number from 1 to ${S3_MAX_PARTS}, got ${maxParts}`);
  }
  if (memory < 2 * S3_MIN_PART_SIZE) {
    throw new UsageError(
      `--memory ${formatBytes(memory)} is too small: it must hold two parts of at least 5 MiB; use --memory 10MiB or more`,
    );
  }
  const maxPartSize = Math.min(S3_MAX_PART_SIZE, Math.floor(memory / 2 / MiB) * MiB);

  let fixed: number | undefined;
  if (options.partSize !== undefined) {
    fixed = checkFixedPartSize(options.partSize, maxPartSize, memory);
  } else if (options.expectedSize !== undefined) {
    const needed = Math.ceil(options.expectedSize / maxParts / MiB) * MiB;
    const size = Math.max(DEFAULT_PART_SIZE, needed);
    if (size <= maxPartSize) {
      fixed = size;
    } else if (!split) {
      throw new UsageError(
        `--expected-size ${formatBytes(options.expectedSize)} needs parts of ${formatBytes(size)} to fit ` +
          `${maxParts} parts, and that needs --memory ${formatBytes(2 * size)}; raise --memory or drop --no-split`,
      );
    } else {
      warnings.push(
        `--expected-size ${formatBytes(options.expectedSize)} does not fit one object with --memory ` +
          `${formatBytes(memory)} (parts of at most ${formatBytes(maxPartSize)}); the stream will continue in ` +
          `continuation objects. Raise --memory to ${formatBytes(2 * size)} to keep one object.`,
      );
    }
  }
  if (fixed === undefined && equalParts) fixed = Math.min(DEFAULT_PART_SIZE, maxPartSize);

  const start = Math.min(DEFAULT_PART_SIZE, maxPartSize);
  const step = Math.max(1, Math.floor(maxParts / 10));
  const partSize = (objectIndex: number, partNumber: number): number => {
    if (fixed !== undefined) return fixed;
    // Continuation objects only exist for big streams: use the largest part from the start.
    if (objectIndex > 0) return maxPartSize;
    const doublings = Math.floor((partNumber - 1) / step);
    return doublings >= 30 ? maxPartSize : Math.min(maxPartSize, start * 2 ** doublings);
  };
  const capacityCache = new Map<number, number>();
  const objectCapacity = (objectIndex: number): number => {
    const key = Math.min(objectIndex, 1);
    let cap = capacityCache.get(key);
    if (cap === undefined) {
      cap = 0;
      for (let n = 1; n <= maxParts; n++) cap += partSize(key, n);
      capacityCache.set(key, cap);
    }
    return cap;
  };
  return {
    maxParts,
    maxPartSize,
    split,
    equalParts: equalParts || fixed !== undefined,
    warnings,
    partSize,
    objectCapacity,
    describe: () =>
      (fixed !== undefined
        ? `parts of ${formatBytes(fixed)}`
        : `parts from ${formatBytes(start)} growing to ${formatBytes(maxPartSize)}`) +
      `, at most ${maxParts} per object (${formatBytes(objectCapacity(0))} per object` +
      (split ? ', continued in further objects beyond that)' : ', --no-split)'),
  };
}

function checkFixedPartSize(size: number, maxPartSize: number, memory: number): number {
  if (!Number.isInteger(size) || size < S3_MIN_PART_SIZE) {
    throw new UsageError(`--part-size must be at least 5 MiB (S3's minimum for every part but the last), got ${formatBytes(size)}`);
  }
  if (size > S3_MAX_PART_SIZE) {
    throw new UsageError(`--part-size must be at most 5 GiB (S3's maximum part size), got ${formatBytes(size)}`);
  }
  if (size > maxPartSize) {
    throw new UsageError(
      `--part-size ${formatBytes(size)} does not fit --memory ${formatBytes(memory)}: one part uploads while the next fills, ` +
        `so --memory must be at least ${formatBytes(2 * size)}`,
    );
  }
  return size;
}

/**
 * Most bytes one stream holds at once: its first parts with every request slot busy, plus the one
 * filling ((concurrency + 1) × the first part size), never less than the largest part. A long
 * stream, whose parts grow, then holds no more memory than a short one: fewer of its larger parts
 * are in flight (docs/UPLOADER.md, "Memory").
 */
export function streamMemoryCap(plan: PartPlan, concurrency: number): number {
  return Math.max((concurrency + 1) * plan.partSize(0, 1), plan.maxPartSize);
}

/** Hands out part slots in order, moving to the next object of the chain at the part limit. */
export class PartSequence {
  private objectIndex = 0;
  private partNumber = 0;

  constructor(private readonly plan: PartPlan) {}

  next(): PartSlot {
    if (this.partNumber >= this.plan.maxParts) {
      if (!this.plan.split) {
        throw new ObjectTooLargeError(
          `the stream outgrew one object (${this.plan.maxParts} parts, ${formatBytes(this.plan.objectCapacity(0))}) ` +
            'and --no-split is set; drop --no-split, or raise --memory (larger parts) or --expected-size',
        );
      }
      this.objectIndex++;
      this.partNumber = 0;
    }
    this.partNumber++;
    return {
      objectIndex: this.objectIndex,
      partNumber: this.partNumber,
      size: this.plan.partSize(this.objectIndex, this.partNumber),
    };
  }
}
