// pg_restore and psql under `diskless run --from` (issue 12): backups written by pg_dump under `diskless run --to`
// are restored straight from S3, --dir on a 1 MiB tmpfs each time (no local copy), into a fresh database compared
// table by table with the source (test/support/postgres.ts). PostgreSQL on port 19200 (this suite's own range).
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless, type CliResult } from '../support/cli.js';
import { fingerprint, loadFixture, pgTool, startPostgres, type Fingerprint, type PostgresServer } from '../support/postgres.js';
import { objectBytes, regularFiles, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';

const PORT = 19200;

describe('PostgreSQL restores under diskless run --from, directory on a 1 MiB tmpfs', () => {
  let bucket: string;
  let server: PostgresServer;
  let source: Fingerprint;
  let restores = 0;
  const endpoint = () => ['--endpoint-url', testS3().endpoint];

  /** `diskless run --to|--from URL --dir <fresh 1 MiB tmpfs> -- command(dir)`. */
  async function diskless(mode: '--to' | '--from', name: string, command: (dir: string) => string[]): Promise<CliResult> {
    const vdir = tinyTmpfs();
    try {
      const r = await runDiskless(['run', ...endpoint(), mode, `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', ...command(vdir.dir)], {
        env: { ...cliEnv(), ...server.env },
        timeoutMs: 170_000,
      });
      expect(regularFiles(vdir.dir), 'nothing may land in the directory').toEqual([]);
      return r;
    } finally {
      vdir.dispose();
    }
  }

  /** Restores with `restore(db)` into a fresh database and compares it with the source. */
  async function restoresTheSource(restore: (db: string) => Promise<CliResult>): Promise<void> {
    const db = `restored_${++restores}`;
    await server.psql(`CREATE DATABASE ${db}`);
    try {
      const r = await restore(db);
      expect(r.code, r.stderr).toBe(0);
      expect(await fingerprint(server, db)).toEqual(source);
    } finally {
      await server.psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  }

  beforeAll(async () => {
    bucket = await createTestBucket('pgfrom');
    server = await startPostgres({ port: PORT });
    await loadFixture(server, 'src');
    source = await fingerprint(server, 'src');
    expect(source.relations['public.big']?.rows).toBe(400_000);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('pg_restore -j 4 of a pg_dump -Fd -j 4 backup, read straight from S3, gives the same database', async () => {
    const dumped = await diskless('--to', 'fd', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fd', '-j', '4', '-f', `${dir}/db`]);
    expect(dumped.code, dumped.stderr).toBe(0);
    await restoresTheSource((db) => diskless('--from', 'fd', (dir) => [pgTool('pg_restore'), '--exit-on-error', '-j', '4', '-d', db, `${dir}/db`]));
  }, 300_000);

  it('pg_restore of a pg_dump -Fc backup gives the same database', async () => {
    const dumped = await diskless('--to', 'fc', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fc', '-f', `${dir}/db.dump`]);
    expect(dumped.code, dumped.stderr).toBe(0);
    await restoresTheSource((db) => diskless('--from', 'fc', (dir) => [pgTool('pg_restore'), '--exit-on-error', '-d', db, `${dir}/db.dump`]));
  }, 300_000);

  it('pg_restore -j 4 of the same -Fc backup (stdio seeks: fseeko/ftello restart the stream at the offset) gives the same database', async () => {
    await restoresTheSource((db) => diskless('--from', 'fc', (dir) => [pgTool('pg_restore'), '--exit-on-error', '-j', '4', '-d', db, `${dir}/db.dump`]));
  }, 300_000);

  it('psql -f of a pg_dump -Fp backup gives the same database', async () => {
    const dumped = await diskless('--to', 'fp', (dir) => [pgTool('pg_dump'), '-d', 'src', '-Fp', '-f', `${dir}/db.sql`]);
    expect(dumped.code, dumped.stderr).toBe(0);
    await restoresTheSource((db) => diskless('--from', 'fp', (dir) => [pgTool('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', `${dir}/db.sql`]));
  }, 300_000);

  it('a data file of a -Fd backup overwritten with other bytes of the same size makes pg_restore -j 4 fail and the run exit 6 naming it', async () => {
    const manifest = JSON.parse((await objectBytes(bucket, 'fd/diskless-manifest.json')).toString()) as { files: Array<{ path: string; key: string; size: number }> };
    const biggest = manifest.files.filter((f) => f.path !== 'db/toc.dat').sort((a, b) => b.size - a.size)[0]!;
    const bytes = await objectBytes(bucket, biggest.key);
    const other = Buffer.from(bytes);
    other[Math.floor(bytes.length / 2)] = other[Math.floor(bytes.length / 2)]! ^ 0x55;
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: biggest.key, Body: other }));
    const db = `restored_${++restores}`;
    await server.psql(`CREATE DATABASE ${db}`);
    try {
      const r = await diskless('--from', 'fd', (dir) => [pgTool('pg_restore'), '--exit-on-error', '-j', '4', '-d', db, `${dir}/db`]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toContain(`s3://${bucket}/${biggest.key}`);
      expect(r.stderr).toMatch(/pg_restore: error/);
    } finally {
      await server.psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  }, 300_000);

  it('a data file of a -Fd backup damaged in place (its ETag unchanged, as bit rot would) makes pg_restore -j 4 fail and the run exit 6 naming it, even when pg_restore stops at the damage before its end', async () => {
    const manifest = JSON.parse((await objectBytes(bucket, 'fd/diskless-manifest.json')).toString()) as {
      files: Array<{ path: string; key: string; size: number; etag: string; chain?: unknown }>;
    };
    const biggest = manifest.files.filter((f) => f.path !== 'db/toc.dat').sort((a, b) => b.size - a.size)[0]!;
    expect(biggest.chain).toBeUndefined();
    const other = Buffer.from(await objectBytes(bucket, biggest.key));
    // Early in the file, so that zlib in pg_restore sees the damage and stops reading long before the end.
    for (let i = 4096; i < 8192; i++) other[i] = other[i]! ^ 0x55;
    const put = await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: biggest.key, Body: other }));
    biggest.etag = put.ETag!.replace(/"/g, ''); // the manifest names the new object: only the CRC32C can tell
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'fd/diskless-manifest.json', Body: JSON.stringify(manifest) }));
    const db = `restored_${++restores}`;
    await server.psql(`CREATE DATABASE ${db}`);
    try {
      const r = await diskless('--from', 'fd', (dir) => [pgTool('pg_restore'), '--exit-on-error', '-j', '4', '-d', db, `${dir}/db`]);
      expect(r.code, r.stderr).toBe(6);
      expect(r.stderr).toContain(`s3://${bucket}/${biggest.key}`);
      expect(r.stderr).toMatch(/CRC32C/);
      expect(r.stderr).toMatch(/pg_restore: error/);
    } finally {
      await server.psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    }
  }, 300_000);
});
