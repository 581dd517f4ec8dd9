import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c, crc32cToHex } from '../../src/checksum/crc32c.js';
import { buildManifest } from '../../src/manifest/manifest.js';
import { runDiskless } from '../support/cli.js';
import { expectValidManifest } from '../support/manifest-schema.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';

describe('diskless ls on Ceph RGW', () => {
  let bucket: string;
  let work: string;
  const s3 = makeTestClient();

  beforeAll(async () => {
    bucket = await createTestBucket('ls');
    work = mkdtempSync(join(tmpdir(), 'diskless-ls-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function dl(args: string[]) {
    return runDiskless([args[0]!, '--endpoint-url', testS3().endpoint, ...args.slice(1)], { env: cliEnv(), timeoutMs: 120_000 });
  }

  function run(name: string, script: string, extra: string[] = []) {
    const dir = join(work, name);
    return runDiskless(['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/b/${name}/`, '--dir', dir, ...extra, '--', 'sh', '-c', script], {
      env: { ...cliEnv(), OUT: dir },
      timeoutMs: 120_000,
    });
  }

  it('shows complete, incomplete (objects without a manifest) and damaged backups, as one JSON array and as a table', async () => {
    expect((await run('ok', 'echo one > "$OUT/a.txt"; echo two > "$OUT/b.txt"')).code).toBe(0);
    const failed = await run('failed', 'echo one > "$OUT/a.txt"; exit 3', ['--keep-failed']);
    expect(failed.code).toBe(5);
    expect((await run('damaged', 'echo one > "$OUT/a.txt"; echo two > "$OUT/b.txt"')).code).toBe(0);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'b/damaged/b.txt' }));

    const r = await dl(['ls', '--json', `s3://${bucket}/b/`]);
    expect(r.code, r.stderr).toBe(0);
    const entries = JSON.parse(r.stdout!.toString()) as Array<Record<string, unknown>>;
    const by = Object.fromEntries(entries.map((e) => [e['url'], e]));
    expect(Object.keys(by).sort()).toEqual([`s3://${bucket}/b/damaged/`, `s3://${bucket}/b/failed/`, `s3://${bucket}/b/ok/`]);
    for (const e of entries) for (const f of ['url', 'kind', 'status', 'startedAt', 'endedAt', 'files', 'bytes']) expect(e, f).toHaveProperty(f);
    expect(by[`s3://${bucket}/b/ok/`]).toMatchObject({ kind: 'run', status: 'complete', files: 2, bytes: 8, command: ['sh', '-c', 'echo one > "$OUT/a.txt"; echo two > "$OUT/b.txt"'] });
    expect(by[`s3://${bucket}/b/failed/`]).toMatchObject({ kind: 'unknown', status: 'incomplete', files: 1, bytes: 4 });
    expect(by[`s3://${bucket}/b/damaged/`]).toMatchObject({ kind: 'run', status: 'damaged', problems: ['b.txt: missing (the object missing)'] });

    const table = await dl(['ls', `s3://${bucket}/b/`]);
    const lines = table.stdout!.toString().split('\n');
    expect(lines[0]).toMatch(/^STARTED +STATUS +KIND +FILES +SIZE +VERIFIED +URL$/);
    expect(lines.slice(1, 4).map((l) => l.split(/ {2,}/)[1])).toEqual(['complete', 'incomplete', 'damaged']);

    // verify of the parent prefix: one line per backup; an object the manifest does not name is reported, not fatal.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b/ok/stray.txt', Body: 'x' }));
    const v = await dl(['verify', '--no-record', `s3://${bucket}/b/`]);
    expect(v.code, v.stderr).toBe(6);
    const out = v.stdout!.toString();
    expect(out).toMatch(/^ok {2}s3:\/\/[^ ]+\/b\/ok\/: 2\/2 file\(s\) ok, shallow/m);
    expect(out).toMatch(/^ {2}unexpected \(not in the manifest\): b\/ok\/stray\.txt$/m);
    expect(out).toMatch(/^FAILED {2}s3:\/\/[^ ]+\/b\/failed\/: 0\/0 file\(s\) ok/m);
    expect(out).toMatch(/^FAILED {2}s3:\/\/[^ ]+\/b\/damaged\/: 1\/2 file\(s\) ok/m);
    expect(v.stderr).toMatch(/verification failed: 3 backup\(s\), 4 file\(s\) checked shallow: 1 ok, 2 failed/);
  }, 180_000);

  it('lists a backup of 5,000 small objects in a few seconds, with no request per object', async () => {
    const n = 5_000;
    const files = Array.from({ length: n }, (_, i) => {
      const body = Buffer.from(`object ${i}\n`);
      return { path: `f${String(i).padStart(5, '0')}.txt`, body, etag: createHash('md5').update(body).digest('hex'), crc: crc32cToHex(crc32c(body)) };
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < n) {
          const f = files[next++]!;
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `many/${f.path}`, Body: f.body }));
        }
      }),
    );
    const manifest = buildManifest({
      kind: 'run', command: ['test'], exitStatus: 0, startedAt: new Date(), bucket, prefix: 'many/',
      files: files.map((f) => ({ path: f.path, key: `many/${f.path}`, size: f.body.length, crc32c: f.crc, end: 'closed', objects: [{ bucket, key: `many/${f.path}`, size: f.body.length, etag: f.etag, parts: 1, partSizes: [f.body.length], crc32c: f.crc, writer: "test" }] })),
    });
    expectValidManifest(manifest);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'many/diskless-manifest.json', Body: JSON.stringify(manifest) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'many-loose/x.bin', Body: 'x' }));

    const r = await dl(['ls', '--json', `s3://${bucket}/many`]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout!.toString())).toMatchObject([{ url: `s3://${bucket}/many/`, status: 'complete', files: n }]);
    // An upper bound only (the machine is shared): one listing of 5 pages and one GET, not 5,000 HEADs.
    expect(r.durationMs).toBeLessThan(15_000);
    const shallow = await dl(['verify', '--no-record', `s3://${bucket}/many/`]);
    expect(shallow.code, shallow.stderr).toBe(0);
    expect(shallow.durationMs).toBeLessThan(15_000);
    console.log(`[ls] 5,000 objects: ls ${r.durationMs} ms, shallow verify ${shallow.durationMs} ms (whole CLI runs, node start-up included)`);
  }, 300_000);
});
