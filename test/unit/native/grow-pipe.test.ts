import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { growPipe, rawPipe } from '../../../src/native/process-control.js';

describe('growPipe', () => {
  it('enlarges a pipe so that one read returns a whole MiB instead of 64 KiB', () => {
    const [r, w] = rawPipe();
    try {
      expect(growPipe(r, 1 << 20)).toBeGreaterThanOrEqual(1 << 20);
      // The 1 MiB write fits into the pipe at once (a 64 KiB pipe would block this synchronous write forever).
      expect(writeSync(w, Buffer.alloc(1 << 20, 7))).toBe(1 << 20);
      const buf = Buffer.alloc(2 << 20);
      expect(readSync(r, buf, 0, buf.length, null)).toBe(1 << 20);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('leaves a regular file alone and says so with 0', () => {
    const file = join(tmpdir(), `grow-pipe-${process.pid}`);
    const fd = openSync(file, 'w');
    try {
      expect(growPipe(fd, 1 << 20)).toBe(0);
    } finally {
      closeSync(fd);
      unlinkSync(file);
    }
  });
});
