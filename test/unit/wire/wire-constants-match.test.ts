import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../../src/native/load-addon.js';
import * as generated from '../../../src/wire/wire.generated.js';

const execFileAsync = promisify(execFile);
const root = packageRoot();

interface CView {
  consts: Record<string, number>;
  envs: Record<string, string>;
  messages: Record<string, { type: number; direction: string; fields: string }>;
}

let dir: string;
let cView: CView;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'diskless-wire-'));
  const exe = path.join(dir, 'print_wire_constants');
  try {
    await execFileAsync('cc', [
      '-std=c99',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-I',
      path.join(root, 'native', 'wire'),
      '-o',
      exe,
      path.join(root, 'native', 'test', 'print_wire_constants.c'),
    ]);
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw new Error('This test compiles C with `cc`, which is missing: install a C compiler (gcc).');
    throw new Error(`compiling native/test/print_wire_constants.c failed:\n${e.stderr ?? e.message}`);
  }
  const { stdout } = await execFileAsync(exe);
  cView = JSON.parse(stdout) as CView;
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('wire constants: C (wire.h) and TypeScript (wire.generated.ts) agree', () => {
  it('every CONST has the same value on both sides', () => {
    const ts = generated as unknown as Record<string, unknown>;
    expect(Object.keys(cView.consts).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(cView.consts)) expect(ts[name], name).toBe(value);
  });

  it('every ENV names the same variable on both sides', () => {
    const ts = generated as unknown as Record<string, unknown>;
    expect(Object.keys(cView.envs).length).toBeGreaterThan(0);
    for (const [name, value] of Object.entries(cView.envs)) expect(ts[name], name).toBe(value);
  });

  it('every MSG has the same type number, direction and fields, and TS has no extra message', () => {
    expect(Object.keys(generated.MESSAGES).sort()).toEqual(Object.keys(cView.messages).sort());
    for (const [name, msg] of Object.entries(cView.messages)) {
      const ts = generated.MESSAGES[name as keyof typeof generated.MESSAGES];
      expect(ts.type, name).toBe(msg.type);
      expect(ts.direction, name).toBe(msg.direction);
      expect(ts.fields.map(([f, k]) => `${f}:${k}`).join(' '), name).toBe(msg.fields.split(/\s+/).filter(Boolean).join(' '));
    }
  });

  it('src/wire/wire.generated.ts is up to date with native/wire/wire.def', async () => {
    await expect(execFileAsync(process.execPath, [path.join(root, 'scripts', 'gen-wire.mjs'), '--check'])).resolves.toBeDefined();
  });
});
