import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomStream, runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, startExtraGateway, type ExtraGateway } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;
// Tight limits so the test is quick; the defaults (30 s idle, 60 s of retries) are for real links.
const LIMITS = ['--request-timeout', '3', '--connect-timeout', '2', '--retry-for', '8'];
// Upper bound the docs promise: retries for --retry-for, each attempt up to --request-timeout, then at
// most 10 s of cleanup attempts (each up to --request-timeout), plus process start and slack.
const DEADLINE_MS = (8 + 3 + 10 + 3 + 6) * 1000;

describe('put when the S3 server stops answering mid-upload', () => {
  let bucket: string;
  let gateways: ExtraGateway[] = [];

  beforeAll(async () => {
    bucket = await createTestBucket('down');
  });

  afterEach(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
    gateways = [];
  });

  async function gateway(name: string, port?: number): Promise<ExtraGateway> {
    const g = await startExtraGateway(name, port);
    gateways.push(g);
    return g;
  }

  async function putUntilServerFails(g: ExtraGateway, action: 'kill' | 'pause', stateDir: string) {
    let failedAt = 0;
    const { stream } = randomStream(2048 * MiB, action);
    const result = await runDiskless(
      ['put', '--endpoint-url', g.endpoint, ...LIMITS, '--state-dir', stateDir, `s3://${bucket}/${action}/big.bin`],
      {
        env: cliEnv(),
        stdin: stream,
        // 150 MiB in: with a 64 MiB budget, parts have certainly been uploaded by then.
        onStdinBytes: { after: 150 * MiB, run: async () => { await g[action](); failedAt = Date.now(); } },
        timeoutMs: 120_000,
      },
    );
    return { result, sinceFailure: Date.now() - failedAt };
  }

  it('fails within the deadline with a clear message when the server is killed, and the next run aborts what was left open', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'diskless-state-'));
    const g = await gateway('kill');
    const { result, sinceFailure } = await putUntilServerFails(g, 'kill', stateDir);
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/giving up: .*(ECONNREFUSED|ECONNRESET|socket hang up|TimeoutError)/);
    expect(sinceFailure).toBeLessThan(DEADLINE_MS);
    expect(await listKeys(bucket, 'kill/')).toEqual([]);

    // The server comes back on the same endpoint; the next diskless run aborts the upload the failed run left open.
    await g.stop();
    const back = await gateway('kill', g.port);
    const next = await runDiskless(
      ['put', '--endpoint-url', back.endpoint, '--state-dir', stateDir, `s3://${bucket}/kill/after.txt`, '--', 'echo', 'ok'],
      { env: cliEnv() },
    );
    expect(next.code, next.stderr).toBe(0);
    expect(await listOpenUploads(bucket)).toEqual([]);
    expect(await listKeys(bucket, 'kill/')).toEqual(['kill/after.txt', 'kill/after.txt.diskless.json']);
  }, 180_000);

  it('fails within the deadline instead of hanging when the server stops answering, and gc aborts what was left open', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'diskless-state-'));
    const g = await gateway('hang');
    const { result, sinceFailure } = await putUntilServerFails(g, 'pause', stateDir);
    await g.resume();
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(4);
    expect(result.stderr).toMatch(/giving up/);
    expect(sinceFailure).toBeLessThan(DEADLINE_MS);

    const gc = await runDiskless(
      ['gc', '--endpoint-url', g.endpoint, '--state-dir', stateDir, `s3://${bucket}/pause/`],
      { env: cliEnv() },
    );
    expect(gc.code, gc.stderr).toBe(0);
    expect(await listOpenUploads(bucket)).toEqual([]);
    expect(await listKeys(bucket, 'pause/')).toEqual([]);
  }, 180_000);
});
