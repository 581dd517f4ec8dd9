import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { objectBytes, sha256 } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, emptyTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('diskless run with more files open at once than the memory budget holds minimum parts for', () => {
  let bucket: string;
  let work: string;

  beforeAll(async () => {
    bucket = await createTestBucket('many');
    work = mkdtempSync(join(tmpdir(), 'diskless-many-'));
    execFileSync('sh', ['-c', `head -c ${5 * MiB} /dev/urandom > ${work}/src.bin`]);
  });

  afterAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await emptyTestBucket(bucket);
  });

  // Each writer writes 1 MiB, pauses, then 5 MiB more. With 64 MiB, the writers used to take a slab or two each, none
  // reached S3's 5 MiB part minimum, and the run hung forever. Now a file is admitted only when a minimum part can be
  // set aside for it; the others wait in their first write.
  const size = 6 * MiB;
  for (const files of [32, 64]) {
    it(`stores ${files} files written at once with --memory 64MiB, each whole`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
      const prefix = `n${files}/`;
      try {
        const script = `for i in $(seq ${files}); do { head -c ${MiB} ${work}/src.bin; sleep 2; cat ${work}/src.bin; } > ${dir}/f$i & done; wait`;
        const r = await runDiskless(
          ['run', '--endpoint-url', testS3().endpoint, '--memory', '64MiB', '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', script],
          { env: cliEnv(), timeoutMs: 150_000 },
        );
        expect(r.signal, `killed after 150 s (hung): ${r.stderr}`).toBeNull();
        expect(r.code, r.stderr).toBe(0);
        const keys = await listKeys(bucket, prefix);
        expect(keys).toHaveLength(files + 1);
        const src = readFileSync(join(work, 'src.bin'));
        const want = sha256(Buffer.concat([src.subarray(0, MiB), src]));
        for (const i of [1, Math.ceil(files / 2), files]) expect(sha256(await objectBytes(bucket, `${prefix}f${i}`))).toBe(want);
        const manifest = JSON.parse((await objectBytes(bucket, `${prefix}diskless-manifest.json`)).toString()) as { files: Array<{ size: number }> };
        expect(manifest.files.map((f) => f.size)).toEqual(Array.from({ length: files }, () => size));
        expect(await listOpenUploads(bucket)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 180_000);
  }
});

describe('diskless run of many files and stats under a low limit of open descriptors', () => {
  let bucket: string;

  beforeAll(async () => {
    bucket = await createTestBucket('fds');
  });

  afterAll(async () => {
    await emptyTestBucket(bucket);
  });

  // Every file is a connection (its bytes); its END and every stat are requests, over a connection per process. The
  // uploader used to keep each request connection open until the run ended (a connection per request then), so a run
  // of a few thousand files failed with EMFILE. Here every stat is a process of its own (/usr/bin/test, not the
  // shell's builtin), so each is a request connection the uploader must close when its process ends.
  it('stores 600 files and answers 600 stats with at most 256 descriptors open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
    try {
      const script = `for i in $(seq 600); do echo "file $i" > ${dir}/f$i; /usr/bin/test -e ${dir}/none$i && exit 9; done; /usr/bin/test -e ${dir}/f600`;
      const r = await runDiskless(['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/fds/`, '--dir', dir, '--', 'sh', '-c', script], {
        env: cliEnv(),
        timeoutMs: 120_000,
        onSpawn: (pid) => execFileSync('prlimit', ['--pid', String(pid), '--nofile=256:256']),
      });
      expect(r.code, r.stderr).toBe(0);
      const keys = await listKeys(bucket, 'fds/');
      expect(keys).toHaveLength(601);
      expect((await objectBytes(bucket, 'fds/f600')).toString()).toBe('file 600\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
