import { beforeAll, describe, expect, it } from 'vitest';
import { randomStream, runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

describe('put when it is interrupted', () => {
  let bucket: string;

  beforeAll(async () => {
    bucket = await createTestBucket('signals');
  });

  for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
    it(`aborts the upload and commits nothing on ${signal}, exiting ${code}`, async () => {
      const { stream } = randomStream(1024 * MiB, signal);
      const result = await runDiskless(['put', '--endpoint-url', testS3().endpoint, `s3://${bucket}/${signal}/x.bin`], {
        env: cliEnv(),
        stdin: stream,
        onStdinBytes: { after: 100 * MiB, run: (pid) => void process.kill(pid, signal) },
        timeoutMs: 60_000,
      });
      expect(result.code, result.stderr).toBe(code);
      expect(result.stderr).toMatch(new RegExp(`interrupted by ${signal}: nothing was committed`));
      expect(await listKeys(bucket, `${signal}/`)).toEqual([]);
      expect(await listOpenUploads(bucket)).toEqual([]);
    });
  }
});
