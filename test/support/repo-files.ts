// The repository's files as the documentation tests see them: every file below the checkout but
// node_modules, dist, build and .git, as paths relative to its root; and the documents (README.md and
// docs/**/*.md) whose claims those tests check.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', '.git']);

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(relative(REPO_ROOT, p));
  }
  return out;
}

/** Every file of the checkout, relative to its root. */
export const REPO_FILES: readonly string[] = walk(REPO_ROOT, []);

/** README.md and every Markdown file under docs/, relative to the root. */
export const DOCUMENTS: readonly string[] = ['README.md', ...REPO_FILES.filter((f) => f.startsWith('docs/') && f.endsWith('.md'))];
