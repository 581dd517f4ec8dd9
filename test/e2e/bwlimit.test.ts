import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { objectBytes, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

/**
 * --bwlimit keeps the average upload rate at or under the limit. Checked as a lower bound on the wall time
 * (bytes ÷ limit), which a loaded machine can only make longer, never shorter.
 */
describe('diskless --bwlimit', () => {
  let bucket: string;
  let work: string;
  beforeAll(async () => {
    bucket = await createTestBucket('bwlimit');
    work = mkdtempSync(join(tmpdir(), 'diskless-bwlimit-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('a single put stream of 24 MiB at 8MiB/s takes at least 3 s and stores the bytes', async () => {
    const data = randomBytes(24 * MiB);
    const file = join(work, 'in.bin');
    writeFileSync(file, data);
    const r = await runDiskless(['put', `s3://${bucket}/one.bin`, '--endpoint-url', testS3().endpoint, '--bwlimit', '8MiB/s', '--', 'cat', file], { env: cliEnv() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(3000);
    expect(sha256(await objectBytes(bucket, 'one.bin'))).toBe(sha256(data));
  });

  it('three files of one run share the limit: 24 MiB in all at 8MiB/s takes at least 3 s', async () => {
    const vdir = tinyTmpfs();
    try {
      const script = `for i in 1 2 3; do head -c ${8 * MiB} /dev/urandom > "${vdir.dir}/f$i" & done; wait`;
      const r = await runDiskless(['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/run/`, '--dir', vdir.dir, '--bwlimit', '8MiB/s', '--', 'sh', '-c', script], { env: cliEnv() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.durationMs).toBeGreaterThanOrEqual(3000);
      for (const f of ['f1', 'f2', 'f3']) expect((await objectBytes(bucket, `run/${f}`)).length).toBe(8 * MiB);
    } finally {
      vdir.dispose();
    }
  });

  it('refuses a rate it cannot read with exit 2, naming the form', async () => {
    const r = await runDiskless(['put', `s3://${bucket}/x`, '--endpoint-url', testS3().endpoint, '--bwlimit', 'fast', '--', 'true'], { env: cliEnv() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--bwlimit: cannot read "fast" as a rate; write e\.g\. 50MiB\/s/);
  });
});
