import { createCipheriv, createHash } from 'node:crypto';
import { MemoryBudget } from '../../src/upload/memory-budget.js';
import type { ObjectStore } from '../../src/upload/object-store.js';
import type { UploadContext } from '../../src/upload/upload-context.js';
import { Limiter } from '../../src/util/limiter.js';
import { silentLogger } from '../../src/util/log.js';
import { MiB } from '../../src/util/size.js';

export function testContext(store: ObjectStore, overrides: Partial<UploadContext> = {}): UploadContext {
  return {
    store,
    budget: new MemoryBudget(64 * MiB),
    requests: new Limiter(4),
    retry: { retryForMs: 2_000, baseDelayMs: 1, maxDelayMs: 10 },
    log: silentLogger,
    ...overrides,
  };
}

/** Deterministic pseudo-random bytes (AES-CTR keystream) in chunks of `chunkSize`, as a pipe delivers them. */
export async function* pseudoRandom(total: number, chunkSize = 64 * 1024, seed = 1): AsyncGenerator<Uint8Array> {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(String(seed)).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(chunkSize);
  let left = total;
  while (left > 0) {
    const n = Math.min(chunkSize, left);
    left -= n;
    yield cipher.update(zeros.subarray(0, n));
  }
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}
