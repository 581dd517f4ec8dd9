import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCUMENTS as DOCS, REPO_FILES, REPO_ROOT as ROOT } from '../../support/repo-files.js';

const TEST_FILES = new Map(REPO_FILES.filter((f) => f.startsWith('test/') && f.endsWith('.test.ts')).map((f) => [basename(f), join(ROOT, f)]));

/** Backslash escapes undone, backticks as quotes, runs of white space as one space (names wrap in docs and sources). */
const normalise = (s: string): string => s.replace(/\\(.)/g, '$1').replace(/`/g, "'").replace(/\s+/g, ' ');
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Placeholders of it.each (%s, %d…) and of template literals (${…}). */
const PLACEHOLDER = /%[sdifjo#]|\$\{[^}]*\}/g;

/** The test names of a source written with placeholders, as regular expressions for any text they can print. */
function templates(source: string): string[][] {
  const out: string[][] = [];
  for (const m of source.matchAll(/\b(?:it|test|describe)(?:\.each\([\s\S]*?\))?\(\s*(['`])((?:[^\\]|\\.)*?)\1/g)) {
    const name = normalise(m[2]!);
    if (PLACEHOLDER.test(name)) out.push(name.split(PLACEHOLDER));
    PLACEHOLDER.lastIndex = 0;
  }
  return out;
}

/**
 * Whether `fragment` is part of what some name template prints: the end of one literal piece, then for
 * each placeholder any text and the next piece, up to the start of a later piece. (A fragment may end
 * inside a placeholder's text, as a name cut short with "…" does, so what follows the last piece it
 * matched is not checked.)
 */
function printedByTemplate(fragment: string, pieces: string[][]): boolean {
  return pieces.some((literal) => {
    for (let a = 0; a < literal.length; a++) {
      const first = literal[a]!;
      for (let b = a + 1; b < literal.length; b++) {
        const last = literal[b]!;
        // What the placeholders between pieces a and b printed, with the pieces between them.
        const middle = new RegExp(`^${['', ...literal.slice(a + 1, b).map(escapeRegExp), ''].join('.+?')}$`.replace('^.+?$', '^.+$'));
        for (let i = 0; i <= first.length; i++) {
          const head = first.slice(i);
          if (!fragment.startsWith(head)) continue;
          for (let j = 0; j <= last.length; j++) {
            const tail = last.slice(0, j);
            if (fragment.length - head.length - tail.length < 1 || !fragment.endsWith(tail)) continue;
            // A fragment that is mostly placeholder text proves nothing: at least half of it must be the template's own words.
            if (2 * (head.length + tail.length + literal.slice(a + 1, b).join('').length) < fragment.length) continue;
            if (middle.test(fragment.slice(head.length, fragment.length - tail.length))) return true;
          }
        }
      }
    }
    return false;
  });
}

/** Every `NAME.test.ts "quoted test name"` reference of a document that its test file does not contain. */
export function staleTestNames(text: string, read: (file: string) => string | undefined): string[] {
  const stale: string[] = [];
  for (const m of text.matchAll(/([\w.-]+\.test\.ts)((?:[ ,;]*(?:and )?"(?:[^"\\]|\\.)+")+)/g)) {
    const source = read(m[1]!);
    if (source === undefined) continue; // a missing file is doc-paths.test.ts's to report
    const hay = normalise(source);
    const pieces = templates(source);
    for (const q of m[2]!.matchAll(/"((?:[^"\\]|\\.)+)"/g)) {
      // A quoted name may be cut short or elided in the middle with "…".
      const fragments = normalise(q[1]!).split(/…|\.\.\./).map((f) => f.trim()).filter((f) => f.length > 0);
      const missing = fragments.filter((f) => !hay.includes(f) && !printedByTemplate(f, pieces));
      if (missing.length > 0) stale.push(`${m[1]} "${q[1]}" (not found: ${missing.join(' | ')})`);
    }
  }
  return stale;
}

const readTest = (name: string): string | undefined => {
  const file = TEST_FILES.get(name);
  return file ? readFileSync(file, 'utf8') : undefined;
};

describe('the documentation names only tests that exist', () => {
  it.each(DOCS)('every test name quoted in %s is in its test file', (doc) => {
    expect(staleTestNames(readFileSync(join(ROOT, doc), 'utf8'), readTest)).toEqual([]);
  });

  it('finds a quoted name its file does not have, and accepts elided and parameterised ones (the check can fail)', () => {
    const source = "it('stores a file whole', …); it.each([1])('refuses the name %s locally with exit 2', …)";
    const read = (name: string) => (name === 'x.test.ts' ? source : undefined);
    expect(staleTestNames('x.test.ts "stores a file whole"; x.test.ts "stores…whole"', read)).toEqual([]);
    expect(staleTestNames('x.test.ts "refuses the name ab locally…"', read)).toEqual([]);
    expect(staleTestNames('x.test.ts "stores a file in parts"', read)).toHaveLength(1);
    expect(staleTestNames('x.test.ts "refuses the title ab locally"', read)).toHaveLength(1);
  });
});
