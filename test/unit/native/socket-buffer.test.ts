import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sendBufferCap, sendBufferNote } from '../../../src/native/socket-buffer.js';

describe('the send buffer of each written file', () => {
  it('reads the kernel cap from net.core.wmem_max, and nothing from a file that is not a number', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wmem-'));
    writeFileSync(join(dir, 'max'), '212992\n');
    writeFileSync(join(dir, 'bad'), 'nope\n');
    expect(sendBufferCap(join(dir, 'max'))).toBe(212992);
    expect(sendBufferCap(join(dir, 'bad'))).toBeUndefined();
    expect(sendBufferCap(join(dir, 'absent'))).toBeUndefined();
  });

  it('names the sysctl that lifts a cap below what --socket-buffer asks, and says nothing otherwise', () => {
    expect(sendBufferNote(4194304, 212992)).toMatch(/capped at 212992 bytes by net.core.wmem_max .*`sysctl -w net.core.wmem_max=4194304`/);
    expect(sendBufferNote(4194304, 4194304)).toBeUndefined();
    expect(sendBufferNote(0, 212992)).toBeUndefined();
    expect(sendBufferNote(4194304, undefined)).toBeUndefined();
  });
});
