import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../../src/native/load-addon.js';
import { shimPath } from '../../../src/native/shim-path.js';

const execFileAsync = promisify(execFile);
const SHIM_DIR = path.join(packageRoot(), 'native', 'shim');

/** Names in the `global:` part of exports.map. */
function mapExports(): string[] {
  const text = readFileSync(path.join(SHIM_DIR, 'exports.map'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const global = /global:([\s\S]*?)local:/.exec(text)?.[1] ?? '';
  return global
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

/** Names defined with SHIM_EXPORT (directly, or through the STAT_HOOK/FSTAT_HOOK/ACCESS_HOOK macros). */
function sourceExports(): string[] {
  const names: string[] = [];
  for (const file of readdirSync(SHIM_DIR).filter((f) => f.endsWith('.c'))) {
    const text = readFileSync(path.join(SHIM_DIR, file), 'utf8');
    for (const m of text.matchAll(/^SHIM_EXPORT [^(]*?\**\s*(\w+)\(/gm)) names.push(m[1] as string);
    for (const m of text.matchAll(/^(?:F?STAT|ACCESS)_HOOK\((\w+),/gm)) names.push(m[1] as string);
  }
  return names.sort();
}

describe('the built shim library', () => {
  it('exports exactly the hooks listed in exports.map, and those are the SHIM_EXPORT definitions', async () => {
    const { stdout } = await execFileAsync('nm', ['-D', '--defined-only', shimPath()]);
    const exported = stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[2])
      .filter((n): n is string => Boolean(n))
      .sort();
    expect(exported).toEqual(mapExports());
    expect(sourceExports()).toEqual(mapExports());
  });

  it('depends on libc only (no libstdc++, no libnode)', async () => {
    const { stdout } = await execFileAsync('readelf', ['-d', shimPath()]);
    const needed = [...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    expect(needed).toEqual(['libc.so.6']);
  });

  it('imports none of the names it hooks (internal calls go through the real_* table)', async () => {
    const { stdout } = await execFileAsync('nm', ['-D', '--undefined-only', shimPath()]);
    const imported = new Set(stdout.split('\n').map((l) => l.trim().split(/\s+/)[1]?.split('@')[0]));
    expect(mapExports().filter((n) => imported.has(n))).toEqual([]);
  });
});
