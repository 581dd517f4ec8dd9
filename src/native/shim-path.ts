import { existsSync } from 'node:fs';
import path from 'node:path';

import { nativeBuildDir } from './load-addon.js';

/** File name of the LD_PRELOAD shim built by the `diskless_shim` target of binding.gyp. */
export const SHIM_FILE = 'libdiskless_shim.so';

/**
 * Where node-gyp may have put the shim: node-gyp's make generator copies shared libraries to
 * build/Release/ (node-gyp 12, the one bundled with npm 11, does), while some versions leave them
 * in build/Release/lib.target/ only (nodejs/node-gyp#2233). This is the one place that knows.
 */
export function shimCandidates(): string[] {
  const dir = nativeBuildDir();
  return [path.join(dir, SHIM_FILE), path.join(dir, 'lib.target', SHIM_FILE)];
}

/**
 * Absolute path of the built shim, for LD_PRELOAD. Throws an Error naming the fix if it is not
 * built.
 */
export function shimPath(): string {
  const candidates = shimCandidates();
  const found = candidates.find((file) => existsSync(file));
  if (found !== undefined) return found;
  throw new Error(
    `The diskless LD_PRELOAD shim is not built (looked for ${candidates.join(' and ')}). ` +
      'Build it with `npm run build:native` (source checkout) or `npm rebuild diskless` (installed package); ' +
      'this needs a C compiler, make and python3.',
  );
}
