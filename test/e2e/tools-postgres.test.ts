// PostgreSQL's own dump tools under `diskless run`, output directory on a 1 MiB tmpfs: each format is compared with
// the same tool writing to local disk, then restored from the objects (downloaded to a local temp dir) into a fresh
// database and compared table by table with the source. What differs from a local run, and why:
// docs/tools/postgresql.md.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless, type CliResult } from '../support/cli.js';
import {
  exec,
  fingerprint,
  loadFixture,
  pgTool,
  postgresOwnedTempDir,
  startPostgres,
  startPostgresOn,
  type Fingerprint,
  type PostgresServer,
} from '../support/postgres.js';
import { objectBytes, regularFiles, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, makeTestClient, testS3 } from '../support/s3-test-env.js';
import { CopyObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';

const MB = 1_000_000;
const MANIFEST = 'diskless-manifest.json';

interface ManifestJson {
  command: string[];
  exitStatus: number;
  totals: { files: number; bytes: number; maxInFlight: number };
  files: Array<{ path: string; key: string; size: number; crc32c: string; etag: string; parts: number; partSizes: number[] }>;
}

describe('PostgreSQL dump tools under diskless run, output directory on a 1 MiB tmpfs', () => {
  let bucket: string;
  let server: PostgresServer;
  let work: string;
  let source: Fingerprint;
  let restores = 0;

  beforeAll(async () => {
    bucket = await createTestBucket('pg');
    work = mkdtempSync(join(tmpdir(), 'diskless-pg-work-'));
    server = await startPostgres();
    const loadMs = await loadFixture(server, 'src');
    console.log(`[tools-postgres] fixture loaded in ${(loadMs / 1000).toFixed(1)} s; database size ${await server.psql("SELECT pg_size_pretty(pg_database_size('src'))")}`);
    source = await fingerprint(server, 'src');
    // The fixture has what the tests rely on.
    expect(source.relations['public.big']?.rows).toBe(400_000);
    expect(Object.values(source.relations).reduce((n, r) => n + r.rows, 0)).toBeGreaterThan(300_000);
    expect(Object.keys(source.largeObjects)).toEqual(['424242']);
    expect(Object.keys(source.functions)).toContain('audit.log_customer()');
    expect(source.triggers).toEqual(['sales.customers customers_audit O']);
    expect(source.relations['sales.customer_totals']?.rows).toBe(50_000);
    expect(await server.psql('SELECT count(DISTINCT get_byte(data, i)) FROM audit.blobs, generate_series(0, 255) AS i WHERE id = 0', 'src')).toBe('256');
    expect(await server.psql("SELECT count(*) FROM sales.customers WHERE name ~ '[^\\x01-\\x7f]'", 'src')).toBe('50000');
  });

  afterAll(async () => {
    await server?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const endpoint = () => ['--endpoint-url', testS3().endpoint];
  const tool = (name: string, args: string[], timeoutMs = 120_000) => exec(pgTool(name), args, { env: server.env, timeoutMs });

  /** Runs `command(dir)` under diskless run with --dir on a fresh 1 MiB tmpfs, into s3://bucket/name/. */
  async function underDiskless(name: string, command: (dir: string) => string[]): Promise<CliResult> {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', ...command(vdir.dir)], {
        env: { ...cliEnv(), ...server.env },
        timeoutMs: 110_000,
      });
      expect(regularFiles(vdir.dir), 'nothing may land in the output directory').toEqual([]);
      return r;
    } finally {
      vdir.dispose();
    }
  }

  async function storedManifest(name: string): Promise<ManifestJson> {
    return JSON.parse((await objectBytes(bucket, `${name}/${MANIFEST}`)).toString()) as ManifestJson;
  }

  /** `diskless verify --deep` of the backup at s3://bucket/name/ (nothing recorded, so listings stay as they are). */
  function verifyDeep(name: string): Promise<CliResult> {
    return runDiskless(['verify', '--deep', '--no-record', ...endpoint(), `s3://${bucket}/${name}/`], { env: cliEnv(), timeoutMs: 110_000 });
  }

  const s3 = () => makeTestClient();
  async function copyObject(from: string, to: string): Promise<void> {
    await s3().send(new CopyObjectCommand({ Bucket: bucket, Key: to, CopySource: `${bucket}/${from}` }));
  }
  async function putObject(key: string, body: string): Promise<void> {
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  /** Downloads every object of the run but the manifest into `into` (paths as under --dir); returns those paths. */
  async function download(name: string, into: string): Promise<string[]> {
    const paths: string[] = [];
    for (const key of await listKeys(bucket, `${name}/`)) {
      const path = key.slice(name.length + 1);
      if (path === MANIFEST) continue;
      mkdirSync(dirname(join(into, path)), { recursive: true });
      writeFileSync(join(into, path), await objectBytes(bucket, key));
      paths.push(path);
    }
    return paths.sort();
  }

  /** Restores with `restore(db)` into a fresh database, compares it with the source, drops it. */
  async function expectRestoresTheSource(restore: (db: string) => Promise<unknown>): Promise<void> {
    const db = `restored_${++restores}`;
    await server.psql(`CREATE DATABASE ${db}`);
    try {
      await restore(db);
      expect(await fingerprint(server, db)).toEqual(source);
      // The trigger is there and fires (it was created after the data, so the restore did not fire it).
      await server.psql("INSERT INTO sales.customers VALUES (999999, 'Ünïcødé ✓', 'Zürich')", db);
      expect(await server.psql('SELECT note FROM audit.log WHERE customer_id = 999999', db)).toBe('créé: Ünïcødé ✓');
    } finally {
      await server.psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  }

  it('pg_dump -Fd -j 4 streams the files of its directory archive several at once, passes its sync pass, matches a local dump, comes back with diskless restore and restores with pg_restore -j 4', async () => {
    const local = join(work, 'fd-local');
    mkdirSync(local);
    await tool('pg_dump', ['-d', 'src', '-Fd', '-j', '4', '-f', join(local, 'db')]);
    const r = await underDiskless('fd', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fd', '-j', '4', '-f', join(dir, 'db')]);
    expect(r.code, r.stderr).toBe(0);

    const files = regularFiles(local).sort();
    const manifest = await storedManifest('fd');
    expect(manifest.exitStatus).toBe(0);
    expect(manifest.files.map((f) => f.path).sort()).toEqual(files);
    expect(manifest.totals.maxInFlight, 'several files written at once').toBeGreaterThanOrEqual(2);
    console.log(`[tools-postgres] pg_dump -Fd -j 4: ${manifest.totals.files} files, ${manifest.totals.bytes} bytes, maxInFlight ${manifest.totals.maxInFlight}`);

    // diskless restore brings the directory back (checksums checked while written), then pg_restore -j 4 loads it.
    const restoreDir = join(work, 'fd-restore');
    const restored = await runDiskless(['restore', ...endpoint(), `s3://${bucket}/fd/`, restoreDir], { env: cliEnv(), timeoutMs: 110_000 });
    expect(restored.code, restored.stderr).toBe(0);
    expect(regularFiles(restoreDir).sort()).toEqual(files);
    for (const f of files) {
      const mine = readFileSync(join(restoreDir, f));
      const theirs = readFileSync(join(local, f));
      expect(manifest.files.find((m) => m.path === f)?.size, f).toBe(mine.length);
      if (f === 'db/toc.dat') {
        // The archive header holds the time the dump started: the only difference.
        expect(parseArchive(mine).tocEnd, 'the whole TOC parsed').toBe(mine.length);
        expect(maskedArchive(mine), f).toEqual(maskedArchive(theirs));
      } else {
        expect(sha256(mine), f).toBe(sha256(theirs));
      }
    }
    // The big table alone is over 50 MB of COPY text.
    const biggest = files.map((f) => readFileSync(join(local, f))).sort((a, b) => b.length - a.length)[0]!;
    expect(gunzipSync(biggest).length).toBeGreaterThanOrEqual(50 * MB);

    await expectRestoresTheSource((db) => tool('pg_restore', ['--exit-on-error', '-j', '4', '-d', db, join(restoreDir, 'db')]));

    // diskless verify --deep reads toc.dat with pg_restore --list and finds every table's data file.
    const verified = await verifyDeep('fd');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout!.toString()).toMatch(/formats: .*pg_dump directory/);
    // The same objects under a manifest that lacks one table's data file: the directory check names it.
    const data = manifest.files.filter((f) => /^db\/\d+\.dat/.test(f.path)).sort((a, b) => b.size - a.size)[0]!;
    const stored = JSON.parse((await objectBytes(bucket, `fd/${MANIFEST}`)).toString()) as { files: Array<{ path: string; key: string }> };
    for (const f of stored.files) {
      if (f.path !== data.path) await copyObject(`fd/${f.path}`, `fd-lacking/${f.path}`);
      f.key = `fd-lacking/${f.path}`;
    }
    stored.files = stored.files.filter((f) => f.path !== data.path);
    await putObject(`fd-lacking/${MANIFEST}`, JSON.stringify({ ...stored, prefix: 'fd-lacking/', totals: { ...manifest.totals, files: stored.files.length } }));
    const lacking = await verifyDeep('fd-lacking');
    expect(lacking.code, lacking.stderr).toBe(6);
    const id = /db\/(\d+)\.dat/.exec(data.path)![1];
    expect(lacking.stdout!.toString()).toMatch(new RegExp(`FORMAT ERROR  db/toc\\.dat: pg_dump directory: toc\\.dat lists \\d+ table data file\\(s\\); missing: ${id}\\.dat`));
  });

  it('pg_dump -Fc writes sequentially to the stream: same size as a local dump, only the creation time and the unset data offsets differ, and pg_restore -j 4 restores it', async () => {
    const local = join(work, 'fc-local.dump');
    await tool('pg_dump', ['-d', 'src', '-Fc', '-f', local]);
    const r = await underDiskless('fc', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fc', '-f', join(dir, 'db.dump')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await storedManifest('fc')).files.map((f) => f.path)).toEqual(['db.dump']);
    const verified = await verifyDeep('fc');
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout!.toString()).toMatch(/formats: pg_dump custom/);

    const restoreDir = join(work, 'fc-restore');
    expect(await download('fc', restoreDir)).toEqual(['db.dump']);
    const streamed = readFileSync(join(restoreDir, 'db.dump'));
    const seekable = readFileSync(local);
    expect(streamed.length).toBe(seekable.length);
    // A local file is seekable: pg_dump goes back and rewrites the TOC with each data block's offset. On the
    // stream the seek fails (ESPIPE), so the offsets stay "not set"; pg_restore then finds the blocks by reading.
    const a = parseArchive(seekable);
    const b = parseArchive(streamed);
    expect(b.entries.map((e) => [e.dumpId, e.desc, e.tag])).toEqual(a.entries.map((e) => [e.dumpId, e.desc, e.tag]));
    const withData = a.entries.filter((e) => e.offsetFlag === K_OFFSET_POS_SET).map((e) => e.dumpId);
    expect(withData.length).toBeGreaterThanOrEqual(6); // five tables and the large object
    expect(b.entries.filter((e) => e.offsetFlag === K_OFFSET_POS_NOT_SET).map((e) => e.dumpId)).toEqual(withData);
    // The parser read the whole TOC: the first data block starts where it ends.
    expect(Math.min(...a.entries.filter((e) => e.offsetFlag === K_OFFSET_POS_SET).map((e) => e.offset!))).toBe(a.tocEnd);
    expect(maskedArchive(streamed)).toEqual(maskedArchive(seekable));

    const listing = (file: string) =>
      tool('pg_restore', ['-l', file]).then((l) => l.split('\n').filter((line) => !line.startsWith('; Archive created at ')));
    expect(await listing(join(restoreDir, 'db.dump'))).toEqual(await listing(local));

    await expectRestoresTheSource((db) => tool('pg_restore', ['--exit-on-error', '-j', '4', '-d', db, join(restoreDir, 'db.dump')]));
  });

  it('pg_dump -Ft matches a local dump but for the member times, the creation time and the random \\restrict keys, and pg_restore restores it', async () => {
    const local = join(work, 'ft-local.tar');
    await tool('pg_dump', ['-d', 'src', '-Ft', '-f', local]);
    const r = await underDiskless('ft', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Ft', '-f', join(dir, 'db.tar')]);
    expect(r.code, r.stderr).toBe(0);

    const restoreDir = join(work, 'ft-restore');
    expect(await download('ft', restoreDir)).toEqual(['db.tar']);
    const streamed = readFileSync(join(restoreDir, 'db.tar'));
    const localBytes = readFileSync(local);
    expect(tarMembers(streamed).map((m) => [m.name, m.size])).toEqual(tarMembers(localBytes).map((m) => [m.name, m.size]));
    expect(maskedTar(streamed)).toEqual(maskedTar(localBytes));

    await expectRestoresTheSource((db) => tool('pg_restore', ['--exit-on-error', '-d', db, join(restoreDir, 'db.tar')]));
  });

  it('pg_dump -Fp is byte-identical to a local dump except the random \\restrict key lines, and psql restores it', async () => {
    const local = join(work, 'fp-local.sql');
    await tool('pg_dump', ['-d', 'src', '-Fp', '-f', local]);
    const r = await underDiskless('fp', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fp', '-f', join(dir, 'db.sql')]);
    expect(r.code, r.stderr).toBe(0);

    const restoreDir = join(work, 'fp-restore');
    expect(await download('fp', restoreDir)).toEqual(['db.sql']);
    const mine = readFileSync(join(restoreDir, 'db.sql'), 'utf8').split('\n');
    const theirs = readFileSync(local, 'utf8').split('\n');
    expect(mine.length).toBe(theirs.length);
    // pg_dump ≥ 15.14 opens and closes a plain dump with \restrict KEY / \unrestrict KEY, a new random key per run.
    const differing = mine.flatMap((line, i) => (line === theirs[i] ? [] : [[line, theirs[i]]]));
    for (const [x, y] of differing) {
      expect(x).toMatch(/^\\(un)?restrict [A-Za-z0-9]+$/);
      expect(y).toMatch(/^\\(un)?restrict [A-Za-z0-9]+$/);
    }
    expect(differing.length).toBeLessThanOrEqual(2);

    await expectRestoresTheSource((db) => exec(pgTool('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', join(restoreDir, 'db.sql')], { env: server.env }));
  });

  it('pg_basebackup -Ft -X fetch stores base.tar and backup_manifest (renamed from its .tmp); the extracted backup verifies and starts with the same data', async () => {
    const local = join(work, 'bb-local');
    await tool('pg_basebackup', ['-Ft', '-X', 'fetch', '-c', 'fast', '-D', join(local, 'base')]);
    const r = await underDiskless('bb', (dir) => [pgTool('pg_basebackup'), '-Ft', '-X', 'fetch', '-c', 'fast', '-D', join(dir, 'base')]);
    expect(r.code, r.stderr).toBe(0);
    expect((await listKeys(bucket, 'bb/')).sort()).toEqual(['bb/base/backup_manifest', 'bb/base/base.tar', `bb/${MANIFEST}`]);

    const downloads = join(work, 'bb-download');
    expect(await download('bb', downloads)).toEqual(['base/backup_manifest', 'base/base.tar']);
    const backupManifest = JSON.parse(readFileSync(join(downloads, 'base/backup_manifest'), 'utf8'));
    expect(backupManifest['PostgreSQL-Backup-Manifest-Version']).toBe(1);
    // Another backup of the same cluster: the same members, but for the name of the WAL segment it needed.
    const members = async (tar: string) =>
      (await exec('tar', ['-tf', tar])).split('\n').filter(Boolean).map((n) => n.replace(/[0-9A-F]{24}/, 'SEGMENT')).sort();
    expect(await members(join(downloads, 'base/base.tar'))).toEqual(await members(join(local, 'base/base.tar')));

    const restoreRoot = postgresOwnedTempDir('diskless-pg-restored-');
    let restored: PostgresServer | undefined;
    try {
      const dataDir = join(restoreRoot, 'data');
      mkdirSync(dataDir);
      await exec('tar', ['-xf', join(downloads, 'base/base.tar'), '-C', dataDir]);
      // Every file's checksum and size against backup_manifest, and the WAL needed to make it consistent.
      await exec(pgTool('pg_verifybackup'), ['-m', join(downloads, 'base/backup_manifest'), dataDir]);
      restored = await startPostgresOn(dataDir);
      const asRestored = await fingerprint(restored, 'src');
      expect(asRestored).toEqual(source);
    } finally {
      await restored?.stop();
      rmSync(restoreRoot, { recursive: true, force: true });
    }
  });

  it('pg_basebackup -Ft with the default -X stream fails (pg_wal.tar needs seeks): exit 5, a hint naming -X fetch, no object and no open upload', async () => {
    const r = await underDiskless('bbstream', (dir) => [pgTool('pg_basebackup'), '-Ft', '-c', 'fast', '-D', join(dir, 'base')]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/pg_basebackup: error: .*Illegal seek/);
    expect(r.stderr).toMatch(/diskless: hint: .*-X fetch/);
    expect(await listKeys(bucket, 'bbstream/')).toEqual([]);
    expect(await listOpenUploads(bucket)).toEqual([]);
  });

  it('a PostgreSQL server killed during pg_dump -Fd -j 4 of the big table makes diskless exit 5 with no manifest, no object and no open upload', async () => {
    const victim = await startPostgres();
    const vdir = tinyTmpfs();
    try {
      await loadFixture(victim, 'src');
      const running = runDiskless(
        ['run', ...endpoint(), '--to', `s3://${bucket}/killed/`, '--dir', vdir.dir, '--', pgTool('pg_dump'), '-d', 'src', '-Fd', '-j', '4', '-f', join(vdir.dir, 'db')],
        { env: { ...cliEnv(), ...victim.env }, timeoutMs: 110_000 },
      );
      let done = false;
      void running.then(() => (done = true));
      // Wait until a worker is copying the big table out, then crash the server.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const copying = await victim.psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY public.big %'");
        if (copying === '1') break;
        if (done) throw new Error(`pg_dump ended before the big table's COPY was seen: ${(await running).stderr}`);
        if (Date.now() > deadline) throw new Error('the COPY of the big table never started');
        await new Promise((res) => setTimeout(res, 20));
      }
      await new Promise((res) => setTimeout(res, 200));
      await victim.kill();
      const r = await running;
      expect(r.code, r.stderr).toBe(5);
      // Whichever worker notices first reports it: the one copying the big table, one starting another table, or one
      // taking the lock of its next table (pg_dump's parallel workers LOCK TABLE … NOWAIT first, and a failed lock is
      // reported as that, without the server's message).
      const noticed = /pg_dump: error: (Dumping the contents of table "\w+" failed|could not obtain lock on relation)/.exec(r.stderr);
      expect(noticed, r.stderr).not.toBeNull();
      if (noticed![1]!.startsWith('Dumping')) expect(r.stderr).toMatch(/server closed the connection unexpectedly/);
      expect(r.stderr).toMatch(/the command exited with status 1: .*pg_dump.*; no manifest written/);
      expect(await listKeys(bucket, 'killed/')).toEqual([]);
      expect(await listOpenUploads(bucket)).toEqual([]);
    } finally {
      vdir.dispose();
      await victim.stop();
    }
  });
});

// --- pg_dump archive headers (custom format, and toc.dat of the directory and tar formats) --------------------------

const K_OFFSET_POS_NOT_SET = 1;
const K_OFFSET_POS_SET = 2;
/** ArchiveFormat of pg_backup.h. */
const ARCH = { custom: 1, tar: 3, directory: 5 } as const;

interface ArchiveEntry {
  dumpId: number;
  desc: string | null;
  tag: string | null;
  /** Custom format: where the data-offset field (flag byte + offset) of this entry starts, and its flag. */
  offsetPos?: number;
  offsetFlag?: number;
  /** Custom format: the offset of the entry's data block (0 when not set). */
  offset?: number;
}

interface ParsedArchive {
  offSize: number;
  /** The creation time (7 ints: sec, min, hour, mday, mon, year, isdst) in the header: [start, end). */
  time: [number, number];
  entries: ArchiveEntry[];
  /** Where the TOC ends (toc.dat: the end of the file; custom format: the first data block). */
  tocEnd: number;
}

/** Parses the header and TOC written by pg_dump (archive versions 1.14 and 1.15: PostgreSQL 12 to 17). */
function parseArchive(buf: Buffer): ParsedArchive {
  if (buf.subarray(0, 5).toString('latin1') !== 'PGDMP') throw new Error('not a pg_dump archive');
  const [vmaj, vmin, , intSize, offSize, format] = [buf[5]!, buf[6]!, buf[7]!, buf[8]!, buf[9]!, buf[10]!];
  if (vmaj !== 1 || vmin < 14 || vmin > 15) throw new Error(`archive version 1.${vmin}: this parser knows 1.14 and 1.15`);
  let pos = 11;
  const int = (): number => {
    const negative = buf[pos]! !== 0;
    let v = 0;
    for (let i = 0; i < intSize; i++) v += buf[pos + 1 + i]! * 2 ** (8 * i);
    pos += 1 + intSize;
    return negative ? -v : v;
  };
  const str = (): string | null => {
    const len = int();
    if (len < 0) return null;
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  if (vmin >= 15) pos += 1; // compression algorithm (a byte)
  else int(); // compression level
  const timeStart = pos;
  for (let i = 0; i < 7; i++) int();
  const time: [number, number] = [timeStart, pos];
  str(); // database name
  str(); // server version
  str(); // pg_dump version
  const count = int();
  const entries: ArchiveEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = int();
    int(); // has a data dumper
    str(); // table oid
    str(); // oid
    const tag = str();
    const desc = str();
    int(); // section
    for (let j = 0; j < 7; j++) str(); // defn, drop, copy, namespace, tablespace, table access method, owner
    str(); // "false" (once: with oids)
    while (str() !== null); // dependencies
    const entry: ArchiveEntry = { dumpId, desc, tag };
    if (format === ARCH.custom) {
      entry.offsetPos = pos;
      entry.offsetFlag = buf[pos]!;
      entry.offset = 0;
      for (let j = 0; j < offSize; j++) entry.offset += buf[pos + 1 + j]! * 2 ** (8 * j);
      pos += 1 + offSize;
    } else if (format === ARCH.directory || format === ARCH.tar) {
      str(); // file name
    }
    entries.push(entry);
  }
  return { offSize, time, entries, tocEnd: pos };
}

/** The archive with its creation time (and, in the custom format, every data offset) zeroed. */
function maskedArchive(buf: Buffer): string {
  const copy = Buffer.from(buf);
  const parsed = parseArchive(copy);
  copy.fill(0, parsed.time[0], parsed.time[1]);
  for (const e of parsed.entries) if (e.offsetPos !== undefined) copy.fill(0, e.offsetPos, e.offsetPos + 1 + parsed.offSize);
  return createHash('sha256').update(copy).digest('hex');
}

interface TarMember {
  name: string;
  size: number;
  header: number;
}

function tarMembers(buf: Buffer): TarMember[] {
  const out: TarMember[] = [];
  for (let pos = 0; pos + 512 <= buf.length; ) {
    const header = buf.subarray(pos, pos + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, len: number) => header.toString('latin1', start, start + len).replace(/\0.*$/s, '').trim();
    const size = parseInt(field(124, 12), 8);
    out.push({ name: field(0, 100), size, header: pos });
    pos += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/**
 * The tar archive with every member's mtime and header checksum zeroed, toc.dat's creation time, and the random keys
 * of restore.sql's \restrict / \unrestrict lines (pg_dump >= 15.20 writes them there too, a new key per run).
 */
function maskedTar(buf: Buffer): string {
  const copy = Buffer.from(buf);
  for (const m of tarMembers(copy)) {
    copy.fill(0, m.header + 136, m.header + 156); // mtime (12) + chksum (8)
    const start = m.header + 512;
    if (m.name === 'toc.dat') {
      const { time } = parseArchive(copy.subarray(start, start + m.size));
      copy.fill(0, start + time[0], start + time[1]);
    }
    if (m.name === 'restore.sql') maskRestrictKeys(copy.subarray(start, start + m.size));
  }
  return createHash('sha256').update(copy).digest('hex');
}

/** Zeroes the key of each `\restrict KEY` / `\unrestrict KEY` line in place (they come in pairs). */
function maskRestrictKeys(script: Buffer): void {
  const text = script.toString('latin1');
  const found = [...text.matchAll(/^\\(un)?restrict ([A-Za-z0-9]+)$/gm)];
  expect(found.filter((f) => f[1] === undefined).length, '\\restrict and \\unrestrict lines pair up').toBe(found.filter((f) => f[1] === 'un').length);
  for (const f of found) {
    const keyStart = f.index + f[0].length - f[2]!.length;
    script.fill(0, keyStart, keyStart + f[2]!.length);
  }
}
