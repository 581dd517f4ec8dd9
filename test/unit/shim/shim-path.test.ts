import { existsSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { nativeBuildDir } from '../../../src/native/load-addon.js';
import { SHIM_FILE, shimCandidates, shimPath } from '../../../src/native/shim-path.js';

describe('shimPath', () => {
  it('finds the shim where this node-gyp put it, under build/Release', () => {
    const found = shimPath();
    expect(existsSync(found)).toBe(true);
    expect(path.basename(found)).toBe(SHIM_FILE);
    expect(shimCandidates()).toContain(found);
    expect(found.startsWith(nativeBuildDir() + path.sep)).toBe(true);
  });

  it('knows both node-gyp output locations for shared libraries', () => {
    expect(shimCandidates()).toEqual([
      path.join(nativeBuildDir(), SHIM_FILE),
      path.join(nativeBuildDir(), 'lib.target', SHIM_FILE),
    ]);
  });
});
