import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkInterposable } from '../../../src/process/command-check.js';

describe('checkInterposable', () => {
  it('accepts a dynamically linked program found in PATH', () => {
    expect(checkInterposable('tar')).toMatch(/\/tar$/);
  });

  it('accepts a script whose interpreter is dynamically linked', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmd-'));
    writeFileSync(join(dir, 'dump.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(dir, 'dump.sh'), 0o755);
    expect(checkInterposable(join(dir, 'dump.sh'))).toBe(join(dir, 'dump.sh'));
  });

  it('refuses a setuid program, suggesting put -- CMD', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmd-'));
    copyFileSync('/bin/true', join(dir, 'suid-true'));
    chmodSync(join(dir, 'suid-true'), 0o4755);
    expect(() => checkInterposable(join(dir, 'suid-true'))).toThrow(/setuid or setgid: the dynamic loader ignores LD_PRELOAD.*diskless put s3:\/\/BUCKET\/KEY --/);
  });

  it('refuses a statically linked program', () => {
    // A minimal static ELF: header with no program headers at all (so no PT_INTERP).
    const dir = mkdtempSync(join(tmpdir(), 'cmd-'));
    const elf = Buffer.alloc(64);
    elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
    writeFileSync(join(dir, 'static'), elf);
    chmodSync(join(dir, 'static'), 0o755);
    expect(() => checkInterposable(join(dir, 'static'))).toThrow(/statically linked: LD_PRELOAD cannot reach it/);
  });

  it('says when the command is not found', () => {
    expect(() => checkInterposable('no-such-tool-xyz')).toThrow('command not found: no-such-tool-xyz (check the name and PATH)');
  });
});
