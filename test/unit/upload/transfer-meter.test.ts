import { describe, expect, it } from 'vitest';
import { planParts } from '../../../src/upload/part-planner.js';
import { uploadStream } from '../../../src/upload/stream-uploader.js';
import { TransferMeter } from '../../../src/upload/transfer-meter.js';
import { MiB } from '../../../src/util/size.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { pseudoRandom, testContext } from '../../support/uploader.js';

describe('TransferMeter fed by the upload path', () => {
  it('counts every byte read and every byte the store acknowledged, for a multipart stream and a single PutObject', async () => {
    const store = new MemoryObjectStore();
    const meter = new TransferMeter();
    const ctx = testContext(store, { meter });
    await uploadStream(ctx, pseudoRandom(21 * MiB), { target: { bucket: 'b', key: 'big' }, plan: planParts({ partSize: 8 * MiB }) });
    expect(store.calls.create).toBe(1);
    expect(meter.sample()).toEqual({ bytesRead: 21 * MiB, bytesStored: 21 * MiB, streamsOpen: 0, streamsDone: 1 });
    await uploadStream(ctx, pseudoRandom(3 * MiB), { target: { bucket: 'b', key: 'small' }, plan: planParts() });
    expect(meter.sample()).toEqual({ bytesRead: 24 * MiB, bytesStored: 24 * MiB, streamsOpen: 0, streamsDone: 2 });
  });

  it('shows a stream in flight, and bytes read ahead of bytes stored, while parts are still being sent', async () => {
    const store = new MemoryObjectStore();
    const meter = new TransferMeter();
    const seen: Array<ReturnType<TransferMeter['sample']>> = [];
    async function* slow() {
      for await (const chunk of pseudoRandom(12 * MiB, MiB)) {
        seen.push(meter.sample());
        yield chunk;
      }
    }
    await uploadStream(testContext(store, { meter }), slow(), { target: { bucket: 'b', key: 'k' }, plan: planParts({ partSize: 5 * MiB }) });
    expect(seen.every((s) => s.streamsOpen === 1 && s.bytesStored <= s.bytesRead)).toBe(true);
    expect(seen.at(-1)!.bytesRead).toBe(11 * MiB);
    expect(meter.sample().streamsOpen).toBe(0);
  });

  it('adds expected sizes (each volume of a snapshot adds its own)', () => {
    const meter = new TransferMeter();
    expect(meter.sample().bytesExpected).toBeUndefined();
    meter.expect(100);
    meter.expect(50);
    expect(meter.sample().bytesExpected).toBe(150);
  });
});
