// `diskless prune` against the RGW of the e2e setup: keep rules on real backups, --dry-run, incomplete prefixes by age
// and open uploads, and a prune killed right after its first manifest delete, which a rerun finishes.
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, DeleteBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, makeTestClient, testS3 } from '../support/s3-test-env.js';

describe('diskless prune on Ceph RGW', () => {
  let bucket: string;
  let work: string;

  beforeAll(async () => {
    bucket = await createTestBucket('prune');
    work = mkdtempSync(join(tmpdir(), 'diskless-prune-'));
    writeFileSync(join(work, 'payload'), 'x'.repeat(100_000));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const dl = (args: string[], env: Record<string, string> = {}) =>
    runDiskless([args[0]!, '--endpoint-url', testS3().endpoint, ...args.slice(1)], { env: { ...cliEnv(), ...env }, timeoutMs: 120_000 });

  /** A run backup of three files at s3://bucket/<series>/<name>/. */
  async function backup(series: string, name: string): Promise<void> {
    const out = join(work, `out-${series}-${name}`);
    const r = await dl(['run', '--to', `s3://${bucket}/${series}/${name}/`, '--dir', out, '--', 'sh', '-c', `for i in 1 2 3; do cp "$0" "${out}/f$i"; done`, join(work, 'payload')]);
    expect(r.code, r.stderr).toBe(0);
  }

  async function lsJson(prefix: string): Promise<Array<{ url: string; status: string }>> {
    const r = await dl(['ls', '--json', `s3://${bucket}/${prefix}`]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout!.toString());
  }

  it('--dry-run prints the plan and deletes nothing; --keep-last 1 on three backups keeps the newest and deletes every object of the two others', async () => {
    for (const d of ['2026-11-29', '2026-11-30', '2026-12-01']) await backup('nightly', d);
    // A verification record belongs to its backup and goes with it.
    expect((await dl(['verify', `s3://${bucket}/nightly/2026-11-29/`])).code).toBe(0);
    const before = await listKeys(bucket, 'nightly/');

    const dry = await dl(['prune', '--keep-last', '1', '--dry-run', `s3://${bucket}/nightly/`]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout!.toString()).toMatch(/would delete .*\/nightly\/2026-11-29\//);
    expect(dry.stdout!.toString()).toMatch(/would delete .*\/nightly\/2026-11-30\//);
    expect(dry.stdout!.toString()).toMatch(/keep .*\/nightly\/2026-12-01\/ {2}\(last, newest\)/);
    expect(dry.stderr).toMatch(/dry run: nothing deleted/);
    expect(await listKeys(bucket, 'nightly/')).toEqual(before);

    const r = await dl(['prune', '--keep-last', '1', `s3://${bucket}/nightly/`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 backup\(s\): 1 kept, 2 deleted, 0 skipped; 9 object\(s\) deleted/);
    expect(await listKeys(bucket, 'nightly/2026-11-29/')).toEqual([]);
    expect(await listKeys(bucket, 'nightly/2026-11-30/')).toEqual([]);
    expect(await listKeys(bucket, 'nightly/2026-12-01/')).toEqual(before.filter((k) => k.startsWith('nightly/2026-12-01/')));
    expect(await lsJson('nightly/')).toMatchObject([{ url: `s3://${bucket}/nightly/2026-12-01/`, status: 'complete' }]);
  });

  /** An object diskless wrote that no manifest names (what a killed run leaves): a put whose sidecar manifest is gone. */
  async function orphanOfDiskless(key: string): Promise<void> {
    const r = await runDiskless(['put', '--endpoint-url', testS3().endpoint, `s3://${bucket}/${key}`, '--', 'echo', 'partial'], { env: cliEnv(), timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    await makeTestClient().send(new DeleteObjectCommand({ Bucket: bucket, Key: `${key}.diskless.json` }));
  }

  it('removes an incomplete prefix older than --incomplete-after, keeps a younger one, and skips one with an open upload', async () => {
    const s3 = makeTestClient();
    await backup('mixed', '2026-12-01');
    for (const k of ['mixed/failed-old/a', 'mixed/failed-old/sub/b', 'mixed/writing/a']) await orphanOfDiskless(k);
    const open = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mixed/writing/big' }));
    try {
      await new Promise((r) => setTimeout(r, 2_500));
      await orphanOfDiskless('mixed/failed-young/a');
      const r = await dl(['prune', '--keep-last', '1', '--incomplete-after', '2s', `s3://${bucket}/mixed/`]);
      expect(r.code, r.stderr).toBe(0);
      const out = r.stdout!.toString();
      expect(out).toMatch(/delete .*\/mixed\/failed-old\/ .*incomplete, older than --incomplete-after/);
      expect(out).toMatch(/keep .*\/mixed\/failed-young\/ .*younger than --incomplete-after/);
      expect(out).toMatch(/skip .*\/mixed\/writing\/ .*multipart upload still open/);
      const keys = await listKeys(bucket, 'mixed/');
      expect(keys.filter((k) => k.startsWith('mixed/failed-old/'))).toEqual([]);
      expect(keys).toEqual(expect.arrayContaining(['mixed/failed-young/a', 'mixed/writing/a', 'mixed/2026-12-01/diskless-manifest.json']));
    } finally {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'mixed/writing/big', UploadId: open.UploadId! }));
    }
  });

  it('never deletes an object diskless did not write: an old incomplete prefix loses only the objects with a diskless writer id', async () => {
    await backup('foreign', '2026-12-01');
    await orphanOfDiskless('foreign/failed/a');
    // The user's own objects under the backup prefix: no manifest names them, and no diskless writer id is on them.
    for (const k of ['foreign/failed/notes.txt', 'foreign/README']) await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: 'mine' }));
    await new Promise((r) => setTimeout(r, 2_500));
    const dry = await dl(['prune', '--keep-last', '1', '--incomplete-after', '2s', '--dry-run', `s3://${bucket}/foreign/`]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout!.toString()).toMatch(/would delete .*\/foreign\/failed\/ .*\[1 object\(s\) not written by diskless are left\]/);
    expect(dry.stdout!.toString()).toMatch(/keep .*\/foreign\/ .*nothing in it was written by diskless/);
    const r = await dl(['prune', '--keep-last', '1', '--incomplete-after', '2s', `s3://${bucket}/foreign/`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/not written by diskless left alone/);
    const keys = await listKeys(bucket, 'foreign/');
    expect(keys).not.toContain('foreign/failed/a');
    expect(keys).toEqual(expect.arrayContaining(['foreign/failed/notes.txt', 'foreign/README', 'foreign/2026-12-01/diskless-manifest.json']));
  });

  it('a prune killed right after its first manifest delete leaves no complete-looking backup with files missing, and a rerun finishes', async () => {
    for (const d of ['2026-11-30', '2026-12-01', '2026-12-02']) await backup('killed', d);
    const killed = await dl(['prune', '--keep-last', '1', `s3://${bucket}/killed/`], { DISKLESS_TEST_PRUNE_KILL_AFTER_MANIFEST: '1' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // The first backup lost its manifest and nothing else: it is incomplete (not complete, not damaged); the second is whole.
    const after = await lsJson('killed/');
    expect(after.filter((b) => b.status === 'damaged')).toEqual([]);
    expect(after.filter((b) => b.status === 'complete').map((b) => b.url)).toEqual([`s3://${bucket}/killed/2026-12-01/`, `s3://${bucket}/killed/2026-12-02/`]);
    expect(await listKeys(bucket, 'killed/2026-11-30/')).toEqual(expect.arrayContaining(['killed/2026-11-30/f1', 'killed/2026-11-30/diskless-manifest.json.diskless-prune.json']));
    expect(await listKeys(bucket, 'killed/2026-11-30/')).not.toContain('killed/2026-11-30/diskless-manifest.json');

    // The rerun finishes the interrupted backup from its marker at once (no --incomplete-after wait), then applies the policy.
    const rerun = await dl(['prune', '--keep-last', '1', `s3://${bucket}/killed/`]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/finished an interrupted prune: .*2026-11-30\/diskless-manifest\.json\.diskless-prune\.json \(3 object\(s\) deleted\)/);
    expect(await listKeys(bucket, 'killed/2026-11-30/')).toEqual([]);
    expect(await listKeys(bucket, 'killed/2026-12-01/')).toEqual([]);
    expect((await lsJson('killed/')).map((b) => [b.url, b.status])).toEqual([[`s3://${bucket}/killed/2026-12-02/`, 'complete']]);
  });

  it('reports the objects it may not delete (AccessDenied), deletes the rest, and exits 4; a manifest it may not delete keeps its backup whole', async () => {
    for (const d of ['2026-11-30', '2026-12-01', '2026-12-02']) await backup('denied', d);
    const s3 = makeTestClient();
    const deny = (resource: string) => ({ Effect: 'Deny', Principal: '*', Action: ['s3:DeleteObject'], Resource: [`arn:aws:s3:::${bucket}/${resource}`] });
    await s3.send(new PutBucketPolicyCommand({
      Bucket: bucket,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [deny('denied/2026-11-30/f2'), deny('denied/2026-12-01/diskless-manifest.json')] }),
    }));
    try {
      const r = await dl(['prune', '--keep-last', '1', `s3://${bucket}/denied/`]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/could not delete denied\/2026-11-30\/f2: AccessDenied/);
      expect(r.stderr).toMatch(/2026-12-01\/: its manifest could not be deleted \(AccessDenied\); the backup is left whole/);
      expect(await listKeys(bucket, 'denied/2026-11-30/')).toEqual(expect.arrayContaining(['denied/2026-11-30/f2']));
      expect(await listKeys(bucket, 'denied/2026-11-30/')).not.toContain('denied/2026-11-30/f1');
      const after = await lsJson('denied/');
      expect(after.filter((b) => b.status === 'damaged')).toEqual([]);
      expect(after.filter((b) => b.status === 'complete').map((b) => b.url)).toEqual([`s3://${bucket}/denied/2026-12-01/`, `s3://${bucket}/denied/2026-12-02/`]);
    } finally {
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    }
  });

  it('refuses to run without a keep rule (exit 2)', async () => {
    const r = await dl(['prune', `s3://${bucket}/nightly/`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/no keep rule given/);
  });
});
