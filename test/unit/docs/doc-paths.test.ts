import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCUMENTS, REPO_FILES, REPO_ROOT as ROOT } from '../../support/repo-files.js';

const TOP_DIRS = ['.ci', 'bench', 'bin', 'docs', 'examples', 'native', 'scripts', 'src', 'test'];
const BASENAMES = new Set(REPO_FILES.map((f) => basename(f)));
const DOCS = DOCUMENTS;

/** Every repository path a document names: `dir/…` paths, bare file names in backticks, relative links. */
export function namedPaths(doc: string, text: string): Array<{ path: string; exists: boolean }> {
  const found = new Map<string, boolean>();
  const rooted = new RegExp(`(?<![\\w./-])((?:${TOP_DIRS.map((d) => d.replace('.', '\\.')).join('|')})/[\\w./+-]*)([*{<$]?)`, 'g');
  for (const m of text.matchAll(rooted)) {
    const path = m[1]!.replace(/[.,:;)]+$/, '');
    if (m[2]) continue; // a pattern (tools-{a,b}.ts, *.test.ts, <name>), not a path
    found.set(path, existsSync(join(ROOT, path)));
  }
  // A file name without a directory, in backticks or as a test reference: it must exist somewhere in the repository.
  for (const m of text.matchAll(/(?<![\w/.(-])(\w[\w.-]*\.(?:md|ts|mjs|c|h|sh|def|json|gyp))\b/g)) {
    const name = m[1]!;
    // Names of objects and placeholders (KEY.diskless-chain.json, diskless-manifest.json), not of files.
    if (name.startsWith('.') || /^(package|tsconfig|diskless-manifest|test-results)/.test(name) || (/^[A-Z]+\./.test(name) && !name.endsWith('.md'))) continue;
    if (!found.has(name)) found.set(name, BASENAMES.has(name) || existsSync(join(ROOT, name)));
  }
  for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
    const target = m[1]!;
    if (/^[a-z]+:/.test(target)) continue;
    const path = relative(ROOT, join(ROOT, dirname(doc), target));
    found.set(path, existsSync(join(ROOT, path)));
  }
  return [...found].map(([path, exists]) => ({ path, exists }));
}

describe('the documentation names only files that exist', () => {
  it.each(DOCS)('every repository path named in %s exists', (doc) => {
    const missing = namedPaths(doc, readFileSync(join(ROOT, doc), 'utf8')).filter((p) => !p.exists).map((p) => p.path);
    expect(missing).toEqual([]);
  });

  it('finds a path that does not exist (the check can fail)', () => {
    // Built from pieces, so that this file itself names no path that does not exist.
    const [doc, missingTs, missingMd] = [['docs', 'X.md'], ['src', 'wire', 'wire-spec.ts'], ['docs', 'PROVIDERS.md']].map((p) => p.join('/'));
    const named = namedPaths(doc!, `see \`${missingTs}\`, [providers](PROVIDERS.md) and \`interposition.md\``);
    expect(named.filter((p) => !p.exists).map((p) => p.path).sort()).toEqual([missingMd, 'interposition.md', missingTs]);
  });
});
