import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { shimPath } from '../../../src/native/shim-path.js';
import { ShimHarness, withoutDisklessEnv } from '../../support/shim-harness.js';
import { explain, regularFilesUnder, sh } from './harness.js';

// Real tools, run by a shell that is itself under the shim (as `diskless run` does), must write the
// same bytes into the virtual directory as they write to a local directory. The uploader is the real
// one (IngestServer + VirtualFiles over the in-memory store).

let work: string;
let tree: string;
let big: string;
let up: ShimHarness;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'diskless-real-tools-'));
  tree = path.join(work, 'tree');
  mkdirSync(path.join(tree, 'sub'), { recursive: true });
  writeFileSync(path.join(tree, 'a.txt'), 'alpha\n'.repeat(1000));
  writeFileSync(path.join(tree, 'sub', 'b.bin'), randomBytes(300_000));
  big = path.join(work, 'big.bin');
  writeFileSync(big, randomBytes(3 * 1024 * 1024 + 12345));
  const fixed = new Date('2024-01-02T03:04:05Z');
  for (const p of [path.join(tree, 'a.txt'), path.join(tree, 'sub', 'b.bin'), path.join(tree, 'sub'), tree]) utimesSync(p, fixed, fixed);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(async () => {
  up = await ShimHarness.start();
});
afterEach(async () => {
  await up?.close();
});

/** Runs `command` with $OUT a fresh local directory, then under the shim with $OUT the virtual one. */
async function compare(command: string, outputs: string[]) {
  const local = mkdtempSync(path.join(work, 'local-'));
  const plain = await sh(command, { env: { ...withoutDisklessEnv(process.env), OUT: local, TREE: tree, BIG: big } });
  expect(plain.code, explain(plain)).toBe(0);
  const shimmed = await sh(command, { env: up.env({ vars: { OUT: up.vdir, TREE: tree, BIG: big } }) });
  expect(shimmed.code, explain(shimmed)).toBe(0);
  await up.settled();
  expect(readdirSync(local).sort()).toEqual([...outputs].sort());
  expect(up.storedPaths()).toEqual([...outputs].sort());
  for (const name of outputs) {
    const stored = up.object(name);
    expect(stored, `${name} was not uploaded`).toBeDefined();
    expect(stored?.equals(readFileSync(path.join(local, name))), `${name} differs`).toBe(true);
  }
  expect(up.failures).toEqual([]);
  expect(regularFilesUnder(up.vdir)).toEqual([]);
}

describe('real tools under the shim', () => {
  it('tar -cf (creat + write + close) writes the same archive', async () => {
    await compare('tar -cf "$OUT/t.tar" -C "$TREE" .', ['t.tar']);
  });

  it('tar -czf (forked child opens, exec-ed gzip writes) writes the same archive', async () => {
    await compare('tar -czf "$OUT/t.tgz" -C "$TREE" .', ['t.tgz']);
  });

  it('a shell redirection into gzip -c (the shell opens, dup2s onto stdout, execs gzip) writes the same file', async () => {
    await compare('gzip -c "$BIG" > "$OUT/big.gz"', ['big.gz']);
  });

  it('split -b (O_CREAT without O_TRUNC, ftruncate on a socket) writes the same parts', async () => {
    await compare('split -b 1M "$BIG" "$OUT/part-"', ['part-aa', 'part-ab', 'part-ac', 'part-ad']);
  });

  it('with the shim preloaded but no diskless environment, tar -cf writes identical bytes', async () => {
    const a = path.join(work, 'plain.tar');
    const b = path.join(work, 'preloaded.tar');
    const base = withoutDisklessEnv(process.env);
    const plain = await sh(`tar -cf "${a}" -C "${tree}" .`, { env: base });
    const preloaded = await sh(`tar -cf "${b}" -C "${tree}" .`, { env: { ...base, LD_PRELOAD: shimPath() } });
    expect(plain.code, explain(plain)).toBe(0);
    expect(preloaded.code, explain(preloaded)).toBe(0);
    expect(readFileSync(b).equals(readFileSync(a))).toBe(true);
    expect(up.untouched).toBe(true);
  });
});
