import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DisklessAddon } from './addon-types.js';

const PACKAGE_NAME = 'diskless';
const ADDON_FILE = 'diskless_addon.node';

/** Every export the addon must provide; the `satisfies` keeps it complete. */
const ADDON_EXPORTS = Object.keys({
  crc32c: true,
  crc32cPortable: true,
  crc32cImplementation: true,
  crc32cCombine: true,
  hashPart: true,
  sealChunks: true,
  openChunks: true,
  peerCredentials: true,
  peerHungUp: true,
  peerClosed: true,
  setChildSubreaper: true,
  reapChild: true,
  pipe: true,
  setBlocking: true,
  dupFd: true,
  recvQueued: true,
  growPipe: true,
} satisfies Record<keyof DisklessAddon, true>) as ReadonlyArray<keyof DisklessAddon>;

let packageRootCache: string | undefined;
let addonCache: DisklessAddon | undefined;

function readPackageName(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path.join(dir, 'package.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'name' in parsed) {
      return typeof parsed.name === 'string' ? parsed.name : undefined;
    }
  } catch {
    // Malformed package.json: not ours, keep walking.
  }
  return undefined;
}

/**
 * The diskless package root: the nearest ancestor of this module's directory
 * whose package.json is named "diskless". Works both from src/native (vitest)
 * and from dist/native (compiled), in a checkout or under node_modules.
 */
export function packageRoot(): string {
  if (packageRootCache !== undefined) return packageRootCache;
  const start = path.dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    if (readPackageName(dir) === PACKAGE_NAME) {
      packageRootCache = dir;
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(
        `Cannot find the ${PACKAGE_NAME} package root: no package.json named "${PACKAGE_NAME}" ` +
          `in ${start} or any parent directory`,
      );
    }
    dir = parent;
  }
}

/**
 * Directory holding the node-gyp build outputs (the addon now; the
 * LD_PRELOAD shim later): `<package root>/build/Release`.
 */
export function nativeBuildDir(): string {
  return path.join(packageRoot(), 'build', 'Release');
}

/** Absolute path of the N-API addon file. */
export function addonPath(): string {
  return path.join(nativeBuildDir(), ADDON_FILE);
}

function missingExports(mod: unknown): string[] {
  if ((typeof mod !== 'object' && typeof mod !== 'function') || mod === null) {
    return [...ADDON_EXPORTS];
  }
  const record = mod as Record<string, unknown>;
  return ADDON_EXPORTS.filter((name) => typeof record[name] !== 'function');
}

const HOW_TO_FIX =
  'Build it with `npm rebuild diskless` (installed package) or `npm run build:native` ' +
  '(source checkout); this needs a C++17 compiler, make and python3.';

/**
 * Loads (once) and returns the native addon. Throws an Error naming the fix
 * if it is not built, cannot be loaded, or is stale (missing exports).
 */
export function loadAddon(): DisklessAddon {
  if (addonCache !== undefined) return addonCache;
  const file = addonPath();
  const require = createRequire(import.meta.url);
  let mod: unknown;
  try {
    mod = require(file);
  } catch (cause) {
    // First line only: require() appends a multi-line require stack.
    const reason = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
    throw new Error(
      `The diskless native addon is not built or cannot be loaded (${file}): ${reason}. ${HOW_TO_FIX}`,
      { cause },
    );
  }
  const missing = missingExports(mod);
  if (missing.length > 0) {
    throw new Error(
      `The diskless native addon at ${file} is out of date (missing ${missing.join(', ')}). ${HOW_TO_FIX}`,
    );
  }
  addonCache = mod as DisklessAddon;
  return addonCache;
}
