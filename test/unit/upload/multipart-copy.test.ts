import { describe, expect, it } from 'vitest';
import { VirtualFiles } from '../../../src/ingest/virtual-files.js';
import type { ObjectStore, UploadPartCopyRequest } from '../../../src/upload/object-store.js';
import { copyRanges } from '../../../src/upload/multipart-copy.js';
import { silentLogger } from '../../../src/util/log.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const retry = { retryForMs: 0, baseDelayMs: 1, maxDelayMs: 1 };

/** A store that only records what a part-by-part copy sends (no bytes: the object is 6 GiB). */
function recordingStore(size: number) {
  const calls: string[] = [];
  const copies: UploadPartCopyRequest[] = [];
  const deleted: string[] = [];
  const store = {
    description: 'recording',
    createMultipartUpload: async (ref: { key: string }) => (calls.push(`create ${ref.key}`), { uploadId: 'up-1', crc32c: false }),
    uploadPartCopy: async (req: UploadPartCopyRequest) => (copies.push(req), { etag: `e${req.partNumber}` }),
    completeMultipartUpload: async (ref: { key: string }, _id: string, parts: unknown[]) => void calls.push(`complete ${ref.key} ${parts.length}`),
    abortMultipartUpload: async () => void calls.push('abort'),
    // The old object carries the writer id it was written with (upload/owned-object.ts): the rename may delete it.
    headObject: async (ref: { key: string }) =>
      ref.key === 'run/new.bin' ? { size, etag: 'x-7', metadata: {} } : ref.key === 'run/old.bin' ? { size, etag: 'x-700', metadata: { 'diskless-writer': 'w1' } } : undefined,
    deleteObject: async (ref: { key: string }) => void deleted.push(ref.key),
    copyObject: async () => {
      throw new Error('CopyObject must not be used over 5 GiB');
    },
  } as unknown as ObjectStore;
  return { store, calls, copies, deleted };
}

describe('server-side copy in parts (UploadPartCopy)', () => {
  it('cuts an object into inclusive ranges of the part size, growing parts to stay within 10,000', () => {
    expect(copyRanges(12 * MiB, 5 * MiB)).toEqual([
      { first: 0, last: 5 * MiB - 1 },
      { first: 5 * MiB, last: 10 * MiB - 1 },
      { first: 10 * MiB, last: 12 * MiB - 1 },
    ]);
    const huge = copyRanges(5 * 1024 * GiB, 5 * MiB);
    expect(huge.length).toBeLessThanOrEqual(10_000);
    expect(huge.at(-1)?.last).toBe(5 * 1024 * GiB - 1);
  });

  it('renames a 6 GiB file with UploadPartCopy in 1 GiB parts, then deletes the old key', async () => {
    const size = 6 * GiB + 123;
    const { store, calls, copies, deleted } = recordingStore(size);
    const files = new VirtualFiles({ store, bucket: 'b', prefix: 'run/', settings: {}, retry, log: silentLogger });
    const f = files.beginWrite('old.bin', 0o1101);
    await files.committed(f, {
      bucket: 'b',
      key: 'run/old.bin',
      size,
      etag: 'x-700',
      crc32c: 'AAAAAA==',
      objects: [{ bucket: 'b', key: 'run/old.bin', size, etag: 'x-700', parts: 700, partSizes: [8 * MiB], crc32c: 'AAAAAA==', writer: 'w1' }],
      parts: 700,
      elapsedMs: 1,
    });
    await files.rename('old.bin', 'new.bin');
    expect(copies.map((c) => [c.partNumber, c.first, c.last, c.source.key])).toEqual([
      ...[0, 1, 2, 3, 4, 5].map((i) => [i + 1, i * GiB, (i + 1) * GiB - 1, 'run/old.bin']),
      [7, 6 * GiB, size - 1, 'run/old.bin'],
    ]);
    expect(calls).toEqual(['create run/new.bin', 'complete run/new.bin 7']);
    expect(deleted).toEqual(['run/old.bin']);
    expect(files.list().map((x) => [x.path, x.objects?.[0]?.parts, x.objects?.[0]?.partSizes])).toEqual([['new.bin', 7, [GiB, 123]]]);
  });
});
