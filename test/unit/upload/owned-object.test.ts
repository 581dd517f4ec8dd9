import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deleteOwnObject, deleteStoredStream, WRITER_METADATA } from '../../../src/upload/owned-object.js';
import { silentLogger } from '../../../src/util/log.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';

const deps = (store: MemoryObjectStore) => ({ store, retry: { retryForMs: 1_000, baseDelayMs: 1, maxDelayMs: 5 }, log: silentLogger });

async function put(store: MemoryObjectStore, key: string, body: string, writer?: string): Promise<string> {
  const data = Buffer.from(body);
  const md5 = createHash('md5').update(data).digest();
  const { etag } = await store.putObject({
    bucket: 'b',
    key,
    body: [data],
    contentLength: data.length,
    contentMd5: md5.toString('base64'),
    settings: writer ? { metadata: { [WRITER_METADATA]: writer } } : {},
  });
  return etag;
}

describe('deleteOwnObject', () => {
  it('deletes the object this writer stored, with the ETag it stored', async () => {
    const store = new MemoryObjectStore();
    const etag = await put(store, 'k', 'mine', 'w1');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'k', writer: 'w1', etag })).toBe('deleted');
    expect(await store.headObject({ bucket: 'b', key: 'k' })).toBeUndefined();
  });

  it('leaves an object another writer (or another program) stored at the key since', async () => {
    const store = new MemoryObjectStore();
    await put(store, 'k', 'theirs', 'w2');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'k', writer: 'w1' })).toBe('not-ours');
    await put(store, 'k2', 'no writer id');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'k2', writer: 'w1' })).toBe('not-ours');
    const etag = await put(store, 'k3', 'same writer, other bytes', 'w1');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'k3', writer: 'w1', etag: etag.replace(/^./, 'x') })).toBe('not-ours');
    expect(await store.headObject({ bucket: 'b', key: 'k' })).toBeDefined();
    expect(await store.headObject({ bucket: 'b', key: 'k2' })).toBeDefined();
    expect(await store.headObject({ bucket: 'b', key: 'k3' })).toBeDefined();
  });

  it('deletes an object a replaced manifest recorded only while it has the recorded ETag, and nothing proven by neither', async () => {
    const store = new MemoryObjectStore();
    const etag = await put(store, 'old', 'old backup');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'old' })).toBe('not-ours');
    expect(await deleteOwnObject(deps(store), { bucket: 'b', key: 'old', etag })).toBe('deleted');
  });
});

describe('deleteStoredStream', () => {
  it('removes object 0, the continuations and the chain index of a chain this writer stored', async () => {
    const store = new MemoryObjectStore();
    for (const key of ['k', 'k.diskless-cont-0001', 'k.diskless-chain.json']) await put(store, key, key, 'w1');
    await deleteStoredStream(deps(store), [
      { bucket: 'b', key: 'k', writer: 'w1' },
      { bucket: 'b', key: 'k.diskless-cont-0001', writer: 'w1' },
    ]);
    for (const key of ['k', 'k.diskless-cont-0001', 'k.diskless-chain.json']) expect(await store.headObject({ bucket: 'b', key })).toBeUndefined();
  });
});
