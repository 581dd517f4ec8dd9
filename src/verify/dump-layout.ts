import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LayoutProblem {
  /** The file the problem is reported on (toc.dat, metadata). */
  path: string;
  problem?: string;
  note?: string;
  format: string;
}

/**
 * Checks of a dump that spans files, from the paths of the backup and the bytes of its small
 * index files:
 *  - pg_dump directory format: `pg_restore --list` reads toc.dat (copied alone into a private
 *    temporary directory: it holds the table of contents, no data) and every TABLE DATA entry's
 *    data file (`<id>.dat`, compressed or not) must be in the backup beside it;
 *  - mydumper: a `metadata` file saying "Started dump", and each table's data files
 *    (`db.table[.NNNNN].sql[.gz|.zst]`) with the table's schema file (`db.table-schema.sql…`).
 */
export async function checkDumpLayouts(paths: readonly string[], captured: ReadonlyMap<string, Buffer>): Promise<LayoutProblem[]> {
  const out: LayoutProblem[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const dir = posix.dirname(p);
    if (!byDir.has(dir)) byDir.set(dir, new Set());
    byDir.get(dir)!.add(posix.basename(p));
  }
  for (const [path, bytes] of captured) {
    const dir = posix.dirname(path);
    const names = byDir.get(dir) ?? new Set<string>();
    const name = posix.basename(path);
    if (name === 'toc.dat' && bytes.toString('latin1', 0, 5) === 'PGDMP') out.push({ path, format: 'pg_dump directory', ...(await pgDirectory(bytes, names)) });
    if (name === 'metadata' && /Started dump/.test(bytes.toString('utf8', 0, 4096))) out.push({ path, format: 'mydumper', ...mydumper(names) });
  }
  return out;
}

async function pgDirectory(toc: Buffer, names: ReadonlySet<string>): Promise<{ problem?: string; note?: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-verify-'));
  let listing: string;
  try {
    writeFileSync(join(dir, 'toc.dat'), toc, { mode: 0o600 });
    listing = (await run('pg_restore', ['--list', dir], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return { note: 'pg_restore is not installed: the directory format is not checked, checksums only' };
    return { problem: `pg_restore --list: ${(e.stderr ?? e.message).trim().split('\n').slice(-2).join('; ')}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ids = [...listing.matchAll(/^(\d+); \d+ \d+ TABLE DATA /gm)].map((m) => m[1]!);
  const missing = ids.filter((id) => ![...names].some((n) => n === `${id}.dat` || n.startsWith(`${id}.dat.`)));
  if (missing.length > 0) {
    return { problem: `pg_dump directory: toc.dat lists ${ids.length} table data file(s); missing: ${missing.slice(0, 5).map((id) => `${id}.dat`).join(', ')}${missing.length > 5 ? ', …' : ''}` };
  }
  return {};
}

function mydumper(names: ReadonlySet<string>): { problem?: string } {
  const tables = new Set<string>();
  for (const n of names) {
    if (/-schema(-create|-triggers|-view|-post)?\.sql(\.gz|\.zst)?$/.test(n)) continue;
    const m = /^([^.]+)\.([^.]+)(?:\.\d+)?\.sql(?:\.gz|\.zst)?$/.exec(n);
    if (m) tables.add(`${m[1]}.${m[2]}`);
  }
  const missing = [...tables].filter((t) => ![...names].some((n) => n.startsWith(`${t}-schema.sql`)));
  if (missing.length > 0) return { problem: `mydumper: no schema file for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}` };
  return {};
}
