import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The end-of-run check of the virtual directory: a virtual file never exists on the local disk, so
 * any regular file, symlink, fifo, socket or device found under the directory got there behind
 * the shim's back (a static program, a libc path the shim does not see) and is not in the backup.
 * Returns their paths relative to `dir` (directories themselves are fine: they are real).
 */
export function findLeftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    let names: string[];
    try {
      names = readdirSync(at);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(at, name);
      let isDir = false;
      try {
        isDir = lstatSync(path).isDirectory();
      } catch {
        continue;
      }
      if (isDir) walk(path);
      else found.push(relative(dir, path));
    }
  };
  walk(dir);
  return found.sort();
}

/** Removes what findLeftovers found (the next run needs an empty directory); never follows a link. */
export function removeLeftovers(dir: string, paths: readonly string[]): void {
  for (const p of paths) rmSync(join(dir, p), { force: true });
}
