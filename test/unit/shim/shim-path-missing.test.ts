import { describe, expect, it, vi } from 'vitest';

// Every candidate is missing: as in a checkout where `npm run build:native` never ran.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return { ...actual, existsSync: () => false };
});

describe('shimPath without a build', () => {
  it('throws an error naming the locations it looked at and the fix', async () => {
    const { shimPath, shimCandidates } = await import('../../../src/native/shim-path.js');
    expect(() => shimPath()).toThrow(/npm run build:native/);
    expect(() => shimPath()).toThrow(shimCandidates()[1] as string);
  });
});
