import { lstatSync, mkdirSync, readdirSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RestoreItem } from '../restore/restore-item.js';

/**
 * Where every placeholder of a `run --from` tree points: a path that never exists (/proc holds only
 * what the kernel makes). A program that reads the directory without the shim (statically linked,
 * or run outside `diskless run`) gets ENOENT, never empty or zero bytes; `ls -l` shows why.
 */
export const PLACEHOLDER_TARGET = '/proc/diskless/stored-in-S3:readable-only-inside-diskless-run--from';

/**
 * The files of one backup as the program under `run --from` sees them (docs/SHIM.md, "Reads"):
 * the manifest's paths, sizes and checksums, and the tree laid out under the directory as real
 * subdirectories and one placeholder symlink per file, so that every way of listing a directory
 * (readdir, scandir, glob, getdents, even from a static program) lists the files without a hook.
 */
export class BackupTree {
  private readonly byPath = new Map<string, RestoreItem>();
  private readonly made: string[] = [];

  constructor(
    readonly bucket: string,
    items: readonly RestoreItem[],
    /** When the backup ended: every file's mtime. */
    readonly mtimeMs: number,
  ) {
    for (const item of items) this.byPath.set(item.path, item);
  }

  get(path: string): RestoreItem | undefined {
    return this.byPath.get(path);
  }

  /** Does the backup hold a file below the directory `dir` (relative)? */
  hasBelow(dir: string): boolean {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    for (const path of this.byPath.keys()) if (path.startsWith(prefix)) return true;
    return false;
  }

  get files(): number {
    return this.byPath.size;
  }

  /** Lays the tree out under `dir` (an empty directory): subdirectories, then a placeholder per file. */
  materialise(dir: string): void {
    for (const path of [...this.byPath.keys()].sort()) {
      const at = join(dir, path);
      for (let d = dirname(path); d !== '.'; d = dirname(d)) {
        if (!this.made.includes(d)) this.made.push(d);
      }
      mkdirSync(dirname(at), { recursive: true });
      symlinkSync(PLACEHOLDER_TARGET, at);
    }
  }

  /**
   * Removes what `materialise` made: the placeholders still there (only symlinks to the placeholder
   * target) and the subdirectories left empty. Returns what else the program left under `dir`.
   */
  remove(dir: string): string[] {
    for (const path of this.byPath.keys()) {
      try {
        if (lstatSync(join(dir, path)).isSymbolicLink()) unlinkSync(join(dir, path));
      } catch {
        // already gone
      }
    }
    // Deepest first, so that a parent is empty when its turn comes.
    for (const d of [...this.made].sort((a, b) => b.split('/').length - a.split('/').length)) {
      try {
        rmdirSync(join(dir, d));
      } catch {
        // not empty: the program made something there
      }
    }
    return leftovers(dir);
  }
}

function leftovers(dir: string, rel = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, rel));
  } catch {
    return [];
  }
  return names.map((n) => (rel ? `${rel}/${n}` : n));
}
