import { describe, expect, it } from 'vitest';

describe('the library entry', () => {
  it('exports the operations and errors without touching the process', async () => {
    const before = {
      sigint: process.listenerCount('SIGINT'),
      sigterm: process.listenerCount('SIGTERM'),
      exitCode: process.exitCode,
    };
    const lib = await import('../../src/index.js');
    expect(typeof lib.put).toBe('function');
    expect(typeof lib.get).toBe('function');
    expect(typeof lib.gc).toBe('function');
    expect(typeof lib.uploadStream).toBe('function');
    expect(new lib.UsageError('x').category).toBe('usage');
    expect(typeof lib.decryptTransform).toBe('function');
    expect(new lib.DecryptError('x', 'damaged').category).toBe('decrypt');
    expect(new lib.StoreError('retryable', 'SlowDown', 'slow down').retryable).toBe(true);
    expect(lib.crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect({
      sigint: process.listenerCount('SIGINT'),
      sigterm: process.listenerCount('SIGTERM'),
      exitCode: process.exitCode,
    }).toEqual(before);
  });
});
