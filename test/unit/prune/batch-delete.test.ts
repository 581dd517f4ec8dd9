import { describe, expect, it } from 'vitest';
import { BatchDeleter } from '../../../src/prune/batch-delete.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/upload/retry.js';
import { silentLogger } from '../../../src/util/log.js';
import { FakeS3Error, MemoryObjectStore } from '../../fakes/memory-object-store.js';

async function storeWith(keys: string[]): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore();
  for (const key of keys) store.objects.set(`b/${key}`, { data: Buffer.from(key), etag: 'e', metadata: {} });
  return store;
}

const ctx = (store: MemoryObjectStore) => ({ store, retry: { ...DEFAULT_RETRY_POLICY, retryForMs: 1_000, baseDelayMs: 1 }, log: silentLogger });

describe('BatchDeleter', () => {
  it('deletes 2,500 keys in three DeleteObjects requests of at most 1,000', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `k/${i}`);
    const store = await storeWith(keys);
    const out = await new BatchDeleter(ctx(store), 'b').delete(keys);
    expect(out).toEqual({ deleted: 2500, failed: [] });
    expect(store.calls.delete).toBe(3);
    expect(store.keys('b')).toEqual([]);
  });

  it('reports keys the store refuses and deletes the rest', async () => {
    const store = await storeWith(['a', 'locked', 'c']);
    store.refuseDelete.add('locked');
    const out = await new BatchDeleter(ctx(store), 'b').delete(['a', 'locked', 'c']);
    expect(out).toEqual({ deleted: 2, failed: [{ key: 'locked', code: 'AccessDenied', message: 'Access Denied' }] });
    expect(store.keys('b')).toEqual(['locked']);
  });

  it('falls back to one DeleteObject per key when the store does not take DeleteObjects (501)', async () => {
    const store = await storeWith(['a', 'b2', 'c']);
    store.failNext('delete', new FakeS3Error('NotImplemented', 501));
    const out = await new BatchDeleter(ctx(store), 'b').delete(['a', 'b2', 'c']);
    expect(out).toEqual({ deleted: 3, failed: [] });
    expect(store.keys('b')).toEqual([]);
  });
});
