import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { objectBytes, sha256 } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('diskless run with more files open at once than the memory budget holds minimum parts for', () => {
  let bucket: string;
  let work: string;

  beforeAll(async () => {
    bucket = await createTestBucket('many');
    work = mkdtempSync(join(tmpdir(), 'diskless-many-'));
    execFileSync('sh', ['-c', `head -c ${4 * MiB} /dev/urandom > ${work}/src.bin`]);
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  // With 64 MiB, each of N parallel writers used to take a slab or two, none reached S3's 5 MiB part minimum, and the
  // run hung forever. Now a file is admitted only when a minimum part can be set aside for it; the others wait.
  for (const [files, size] of [
    [32, 4 * MiB],
    [64, 3 * MiB],
  ] as const) {
    it(`stores ${files} files written at once with --memory 64MiB, each whole`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
      const prefix = `n${files}/`;
      try {
        const script = `for i in $(seq ${files}); do head -c ${size} ${work}/src.bin > ${dir}/f$i & done; wait`;
        const r = await runDiskless(
          ['run', '--endpoint-url', testS3().endpoint, '--memory', '64MiB', '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', script],
          { env: cliEnv(), timeoutMs: 150_000 },
        );
        expect(r.signal, `killed after 150 s (hung): ${r.stderr}`).toBeNull();
        expect(r.code, r.stderr).toBe(0);
        const keys = await listKeys(bucket, prefix);
        expect(keys).toHaveLength(files + 1);
        const want = sha256(readFileSync(join(work, 'src.bin')).subarray(0, size));
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
