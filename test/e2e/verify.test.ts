import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { expectValidManifest } from '../support/manifest-schema.js';
import { objectBytes } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('diskless verify on Ceph RGW', () => {
  let bucket: string;
  let work: string;
  let src: string;
  const env = () => ({ ...cliEnv(), SRC: src });
  const s3 = () => makeTestClient();

  beforeAll(async () => {
    bucket = await createTestBucket('verify');
    work = mkdtempSync(join(tmpdir(), 'diskless-verify-'));
    src = join(work, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    execFileSync('sh', ['-c', `head -c ${6 * MiB} /dev/urandom > ${join(src, 'sub', 'random.bin')}`]);
    writeFileSync(join(src, 'notes.txt'), 'a line of text\n'.repeat(20_000));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function dl(args: string[], timeoutMs = 300_000) {
    return runDiskless([args[0]!, '--endpoint-url', testS3().endpoint, ...args.slice(1)], { env: env(), timeoutMs });
  }

  /** `diskless run` of a shell script writing into $OUT; the run must succeed; returns its manifest (schema-checked). */
  async function runBackup(name: string, script: string) {
    const dir = join(work, `out-${name}`);
    const r = await runDiskless(['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/${name}/`, '--dir', dir, '--', 'sh', '-c', script], {
      env: { ...env(), OUT: dir },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse((await objectBytes(bucket, `${name}/diskless-manifest.json`)).toString());
    expectValidManifest(manifest, name);
    return manifest as { kind: string; files: Array<{ path: string; key: string; size: number; end: string }> };
  }

  const TAR_AND_GZIP = 'tar -C "$SRC" -cf "$OUT/tree.tar" . && tar -C "$SRC" -czf "$OUT/tree.tar.gz" . && gzip -c "$SRC/notes.txt" > "$OUT/notes.txt.gz"';

  it('verifies a run backup of tar and gzip files shallow and deep with exit 0, and ls shows the recorded result', async () => {
    const manifest = await runBackup('good', TAR_AND_GZIP);
    expect(manifest).toMatchObject({ kind: 'run' });
    // How each writer ended, as the shim reported it (a shell redirection's fd is closed by dup2 over it, or by exit).
    expect(manifest.files.every((f) => ['closed', 'exit', 'exec', 'replaced'].includes(f.end))).toBe(true);

    const shallow = await dl(['verify', `s3://${bucket}/good/`]);
    expect(shallow.code, shallow.stderr).toBe(0);
    expect(shallow.stdout!.toString()).toMatch(/^ok {2}s3:\/\/[^ ]+\/good\/: 3\/3 file\(s\) ok, shallow/m);

    const deep = await dl(['verify', '--deep', `s3://${bucket}/good/`]);
    expect(deep.code, deep.stderr).toBe(0);
    expect(deep.stdout!.toString()).toMatch(/3\/3 file\(s\) ok, deep, .* read, formats: .*tar/);
    expect(deep.stdout!.toString()).toMatch(/gzip\+tar/);

    const keys = await listKeys(bucket, 'good/');
    expect(keys.filter((k) => /diskless-manifest\.verify-\d{8}T\d{9}Z-(shallow|deep)-ok\.json$/.test(k))).toHaveLength(2);
    const ls = await dl(['ls', '--json', `s3://${bucket}/good/`]);
    expect(ls.code, ls.stderr).toBe(0);
    const [entry] = JSON.parse(ls.stdout!.toString());
    expect(entry).toMatchObject({ url: `s3://${bucket}/good/`, kind: 'run', status: 'complete', files: 3, lastVerification: { deep: true, result: 'ok' } });

    const json = await dl(['verify', '--json', '--no-record', `s3://${bucket}/good/`]);
    expect(JSON.parse(json.stdout!.toString())).toMatchObject({ ok: true, backups: [{ ok: true, files: [{ status: 'ok' }, { status: 'ok' }, { status: 'ok' }] }] });
    expect((await listKeys(bucket, 'good/')).length, '--no-record adds nothing').toBe(keys.length);
  }, 300_000);

  it('verifies a put backup (with SHA-256) shallow and deep with exit 0, from its KEY.diskless.json manifest', async () => {
    const put = await dl(['put', '--sha256', `s3://${bucket}/put/tree.tar.gz`, '--', 'tar', '-C', src, '-czf', '-', '.']);
    expect(put.code, put.stderr).toBe(0);
    const manifest = JSON.parse((await objectBytes(bucket, 'put/tree.tar.gz.diskless.json')).toString());
    expectValidManifest(manifest, 'put');
    expect(manifest).toMatchObject({ kind: 'put', command: ['tar', '-C', src, '-czf', '-', '.'], exitStatus: 0, files: [{ key: 'put/tree.tar.gz', end: 'exit' }] });
    expect(manifest.files[0].sha256).toMatch(/^[0-9a-f]{64}$/);

    for (const mode of [[], ['--deep']]) {
      const r = await dl(['verify', ...mode, `s3://${bucket}/put/tree.tar.gz`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout!.toString()).toMatch(/^ok {2}s3:\/\/.*\/put\/tree\.tar\.gz: 1\/1 file\(s\) ok/m);
    }
  }, 120_000);

  it('fails shallow verify with exit 6 naming a file replaced by different bytes of the same size, and one deleted as missing', async () => {
    const manifest = await runBackup('tampered', TAR_AND_GZIP);
    const byPath = Object.fromEntries(manifest.files.map((f) => [f.path, f]));
    const replaced = byPath['tree.tar']!;
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: replaced.key, Body: randomBytes(replaced.size) }));
    const r = await dl(['verify', `s3://${bucket}/tampered/`]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout!.toString()).toMatch(/^ {2}CHECKSUM MISMATCH {2}tree\.tar: ETag [0-9a-f]+, the manifest says/m);
    expect(r.stderr).toMatch(/verification failed: .* 1 failed \(1 file\(s\) not ok\)/);

    await s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: byPath['notes.txt.gz']!.key }));
    const gone = await dl(['verify', `s3://${bucket}/tampered/`]);
    expect(gone.code).toBe(6);
    expect(gone.stdout!.toString()).toMatch(/^ {2}MISSING {2}notes\.txt\.gz: the object missing/m);
    expect(gone.stdout!.toString()).toMatch(/^FAILED {2}s3:\/\/.*\/tampered\/: 1\/3 file\(s\) ok/m);

    const ls = await dl(['ls', '--json', `s3://${bucket}/tampered/`]);
    expect(JSON.parse(ls.stdout!.toString())[0]).toMatchObject({ status: 'damaged', lastVerification: { deep: false, result: 'failed' } });
  }, 120_000);

  it('passes shallow verify but fails --deep, naming both files and why, when the command wrote a truncated tar and a truncated gzip', async () => {
    // Without pipefail the pipelines exit with head's status 0: the run succeeds, the archives are broken.
    await runBackup('truncated', 'tar -C "$SRC" -cf - . | head -c 1000000 > "$OUT/cut.tar"; tar -C "$SRC" -czf - . | head -c 3000001 > "$OUT/cut.tar.gz"');
    const shallow = await dl(['verify', `s3://${bucket}/truncated/`]);
    expect(shallow.code, shallow.stderr).toBe(0);
    const deep = await dl(['verify', '--deep', `s3://${bucket}/truncated/`]);
    expect(deep.code, deep.stderr).toBe(6);
    const out = deep.stdout!.toString();
    expect(out).toMatch(/^ {2}FORMAT ERROR {2}cut\.tar: tar: unexpected EOF at byte \d+ in member "/m);
    expect(out).toMatch(/^ {2}FORMAT ERROR {2}cut\.tar\.gz: gzip: unexpected end of file/m);
  }, 120_000);

  it('verifies a 1.2 GiB chain (--part-size 5MiB --max-parts 100) deep', async () => {
    const size = Math.round(1.2 * GiB);
    const put = await dl(['put', '--part-size', '5MiB', '--max-parts', '100', `s3://${bucket}/chain/big.bin`, '--', 'head', '-c', String(size), '/dev/urandom'], 600_000);
    expect(put.code, put.stderr).toBe(0);
    const manifest = JSON.parse((await objectBytes(bucket, 'chain/big.bin.diskless.json')).toString());
    expectValidManifest(manifest, 'chain');
    expect(manifest.files[0].chain.length).toBeGreaterThanOrEqual(3);
    const r = await dl(['verify', '--deep', `s3://${bucket}/chain/big.bin`], 600_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toMatch(/1\/1 file\(s\) ok, deep, 1\.20 GiB read/);
  }, 900_000);

  it('exits 6 for a prefix holding no backup, and for objects without a manifest', async () => {
    const none = await dl(['verify', `s3://${bucket}/nothing-here/`]);
    expect(none.code).toBe(6);
    expect(none.stderr).toMatch(/no backup at or under s3:\/\/.*\/nothing-here\//);
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'orphan/x.tar', Body: 'x' }));
    const orphan = await dl(['verify', `s3://${bucket}/orphan/`]);
    expect(orphan.code).toBe(6);
    expect(orphan.stdout!.toString()).toMatch(/no manifest: 1 object\(s\) of a failed, killed or still running backup/);
  });
});
