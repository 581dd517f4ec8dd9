import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomStream, runDiskless, type CliResult } from '../support/cli.js';
import { startFaultProxy, type FaultProxy, type ProxiedRequest } from '../support/fault-proxy.js';
import { objectBytes, sha256 } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, emptyTestBucket, listKeys, listOpenUploads, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

/** A request is a CompleteMultipartUpload (POST ?uploadId=…) or a HeadObject. */
const isComplete = (r: ProxiedRequest) => r.method === 'POST' && /[?&]uploadId=/.test(r.url);
const isHead = (r: ProxiedRequest) => r.method === 'HEAD';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('diskless never destroys a backup it did not write, and never replaces one unasked', () => {
  let bucket: string;
  let work: string;
  const proxies: FaultProxy[] = [];
  const env = () => cliEnv();
  const direct = () => ['--endpoint-url', testS3().endpoint];

  beforeAll(async () => {
    bucket = await createTestBucket('safety');
    work = mkdtempSync(join(tmpdir(), 'diskless-safety-'));
    execFileSync('sh', ['-c', `head -c ${20 * MiB} /dev/urandom > ${work}/a.bin; head -c ${20 * MiB} /dev/urandom > ${work}/b.bin`]);
  });

  afterAll(async () => {
    for (const p of proxies) await p.close();
    await emptyTestBucket(bucket);
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * The race of two writers to one key, made deterministic with one proxy each: B completes first; B's check
   * (HeadObject) is held until A has completed over B's object and exited; then B's check finds A's object.
   */
  async function race(startA: (endpoint: string) => Promise<CliResult>, startB: (endpoint: string) => Promise<CliResult>) {
    const bCompleted = deferred();
    const aDone = deferred();
    let bCompletes = false;
    const proxyA = await startFaultProxy({
      target: testS3().endpoint,
      rule: (r) => (isComplete(r) ? { kind: 'hold', until: bCompleted.promise } : undefined),
    });
    const proxyB = await startFaultProxy({
      target: testS3().endpoint,
      rule: (r) => {
        if (isComplete(r)) bCompletes = true;
        else if (bCompletes && isHead(r)) {
          bCompleted.resolve();
          return { kind: 'hold', until: aDone.promise };
        }
        return undefined;
      },
    });
    proxies.push(proxyA, proxyB);
    const a = startA(proxyA.endpoint).then((r) => (aDone.resolve(), r));
    const b = startB(proxyB.endpoint);
    return { a: await a, b: await b };
  }

  it('two puts to one key: the one whose object was replaced fails and deletes nothing; the other exits 0 and its object stays whole', async () => {
    const key = 'race/same.bin';
    const put = (file: string) => (endpoint: string) =>
      runDiskless(['put', '--endpoint-url', endpoint, `s3://${bucket}/${key}`, '--', 'cat', join(work, file)], { env: env(), timeoutMs: 120_000 });
    const { a, b } = await race(put('a.bin'), put('b.bin'));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(4);
    expect(b.stderr).toMatch(/another writer replaced it/);
    expect(b.stderr).toMatch(/left s3:\/\/\S+\/race\/same\.bin alone/);
    const stored = await objectBytes(bucket, key);
    expect(sha256(stored)).toBe(sha256(readFileSync(join(work, 'a.bin'))));
    expect(await listOpenUploads(bucket)).toEqual([]);
  }, 180_000);

  it('two runs writing x.bin under one prefix: the run that exits 0 keeps its object, the other deletes nothing of it', async () => {
    const prefix = 'runrace/';
    const run = (file: string) => (endpoint: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
      return runDiskless(
        ['run', '--endpoint-url', endpoint, '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', `cat ${join(work, file)} > ${dir}/x.bin`],
        { env: env(), timeoutMs: 120_000 },
      ).finally(() => rmSync(dir, { recursive: true, force: true }));
    };
    const { a, b } = await race(run('a.bin'), run('b.bin'));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(4);
    expect(await listKeys(bucket, prefix)).toEqual([`${prefix}diskless-manifest.json`, `${prefix}x.bin`]);
    const manifest = JSON.parse((await objectBytes(bucket, `${prefix}diskless-manifest.json`)).toString()) as { files: Array<{ key: string; etag: string }> };
    const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}x.bin` }));
    expect(head.ETag).toBe(`"${manifest.files[0]!.etag}"`);
    expect(sha256(await objectBytes(bucket, `${prefix}x.bin`))).toBe(sha256(readFileSync(join(work, 'a.bin'))));
  }, 180_000);

  it('a run whose small file (one PutObject) another writer replaces before the manifest fails with exit 4, names it, writes no manifest and leaves the other object alone', async () => {
    const prefix = 'smallrace/';
    const key = `${prefix}x.txt`;
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      // The file is stored at once; the command then waits for the test's go before it exits.
      const running = runDiskless(
        ['run', ...direct(), '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', `echo mine > ${dir}/x.txt; while [ ! -e ${work}/go ]; do sleep 0.05; done`],
        { env: env(), timeoutMs: 120_000 },
      );
      for (let i = 0; i < 600 && !(await listKeys(bucket, prefix)).includes(key); i++) await new Promise((r) => setTimeout(r, 50));
      await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'another writer\n' }));
      writeFileSync(join(work, 'go'), '');
      const r = await running;
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/x\.txt: \S+x\.txt holds 15 bytes with ETag [0-9a-f]+, this run stored 5 bytes .*another writer replaced it/);
      expect(r.stderr).toMatch(/left s3:\/\/\S+\/smallrace\/x\.txt alone/);
      expect(await listKeys(bucket, prefix)).toEqual([key]);
      expect((await objectBytes(bucket, key)).toString()).toBe('another writer\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(work, 'go'), { force: true });
    }
  }, 180_000);

  it('put refuses a key that already holds an object (exit 3, nothing read) unless --overwrite; {date} and {run} make fresh keys', async () => {
    const key = 'immutable/db.bin';
    const first = await runDiskless(['put', ...direct(), `s3://${bucket}/${key}`], { env: env(), stdin: randomStream(6 * MiB, 'one').stream });
    expect(first.code, first.stderr).toBe(0);
    const again = await runDiskless(['put', ...direct(), `s3://${bucket}/${key}`, '--', 'sh', '-c', 'echo ran >&2; echo data'], { env: env() });
    expect(again.code, again.stderr).toBe(3);
    expect(again.stderr).toMatch(/already exists; diskless never replaces a stored backup .*--overwrite/);
    expect(again.stderr).not.toMatch(/ran/);
    expect(sha256(await objectBytes(bucket, key))).toBe(sha256(Buffer.concat(await collect(randomStream(6 * MiB, 'one').stream))));
    const replaced = await runDiskless(['put', ...direct(), '--overwrite', `s3://${bucket}/${key}`], { env: env(), stdin: randomStream(1 * MiB, 'two').stream });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(sha256(await objectBytes(bucket, key))).toBe(sha256(Buffer.concat(await collect(randomStream(1 * MiB, 'two').stream))));

    const templated = await runDiskless(['put', ...direct(), `s3://${bucket}/daily/{host}-{date}-{run}.bin`], { env: env(), stdin: randomStream(1000, 't').stream });
    expect(templated.code, templated.stderr).toBe(0);
    const [stored] = await listKeys(bucket, 'daily/');
    const date = new Date().toISOString().slice(0, 10);
    expect(stored).toMatch(new RegExp(`^daily/[^/]+-${date}-\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.bin$`));
  }, 120_000);

  it('run refuses a prefix that holds a backup; with --overwrite a failing run leaves the old backup whole, a succeeding one replaces it', async () => {
    const prefix = 'reuse/';
    const runTo = (extra: string[], script: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
      return runDiskless(['run', ...direct(), ...extra, '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', script.replaceAll('$D', dir)], {
        env: env(),
      }).finally(() => rmSync(dir, { recursive: true, force: true }));
    };
    const first = await runTo([], `cat ${work}/a.bin > $D/x.bin; echo one > $D/y.txt`);
    expect(first.code, first.stderr).toBe(0);
    const manifestKey = `${prefix}diskless-manifest.json`;
    const oldManifest = (await objectBytes(bucket, manifestKey)).toString();
    const oldFiles = (JSON.parse(oldManifest) as { files: Array<{ key: string; etag: string }> }).files;
    /** Every file the old manifest lists is still there with the recorded ETag. */
    const oldBackupVerifies = async () => {
      expect((await objectBytes(bucket, manifestKey)).toString()).toBe(oldManifest);
      for (const f of oldFiles) {
        const head = await makeTestClient().send(new HeadObjectCommand({ Bucket: bucket, Key: f.key }));
        expect(head.ETag).toBe(`"${f.etag}"`);
      }
    };

    const refused = await runTo([], `echo ran >&2; cat ${work}/b.bin > $D/x.bin`);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.stderr).toMatch(/already holds a backup .*diskless-manifest\.json.*--overwrite/);
    expect(refused.stderr).not.toMatch(/\bran\b/);
    await oldBackupVerifies();

    const failed = await runTo(['--overwrite'], `cat ${work}/b.bin > $D/x.bin; echo two > $D/y.txt; exit 1`);
    expect(failed.code, failed.stderr).toBe(5);
    await oldBackupVerifies();

    const replaced = await runTo(['--overwrite'], `cat ${work}/b.bin > $D/x.bin`);
    expect(replaced.code, replaced.stderr).toBe(0);
    const manifest = JSON.parse((await objectBytes(bucket, manifestKey)).toString()) as { files: Array<{ path: string; key: string }> };
    expect(manifest.files.map((f) => f.path)).toEqual(['x.bin']);
    expect(sha256(await objectBytes(bucket, manifest.files[0]!.key))).toBe(sha256(readFileSync(join(work, 'b.bin'))));
    // Once the new backup is committed, the files of the one it replaced are removed: only the new one is left.
    expect(replaced.stderr).toMatch(/removed the 2 file\(s\) of the backup this one replaced/);
    expect(await listKeys(bucket, prefix)).toEqual([manifestKey, manifest.files[0]!.key].sort());
  }, 180_000);
});

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of stream) out.push(Buffer.from(c));
  return out;
}
