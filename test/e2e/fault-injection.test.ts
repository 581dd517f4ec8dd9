import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomStream, runDiskless } from '../support/cli.js';
import { randomFaults, startFaultProxy, type FaultProxy, type FaultRule, type ProxiedRequest } from '../support/fault-proxy.js';
import { objectBytes, sha256 } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, emptyTestBucket, listKeys, listOpenUploads, makeTestClient, testS3 } from '../support/s3-test-env.js';

const MiB = 1024 * 1024;

const isProbeAbort = (r: ProxiedRequest) => r.method === 'DELETE' && r.url.includes('diskless-preflight-');
const isComplete = (r: ProxiedRequest) => r.method === 'POST' && /[?&]uploadId=/.test(r.url);
const isUploadPart = (r: ProxiedRequest) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url);

/** The soaks' mix: 3% 500, 3% 503 SlowDown, 2% connection resets (request and response), 1% damaged request bodies. */
const SOAK_RATES = { status500: 0.03, status503: 0.03, resetRequest: 0.01, resetResponse: 0.01, flipRequest: 0.01 };

describe('diskless through a fault-injecting proxy in front of RGW', () => {
  let bucket: string;
  let work: string;
  let proxy: FaultProxy;
  const env = () => cliEnv();
  const direct = () => ['--endpoint-url', testS3().endpoint];
  const via = () => ['--endpoint-url', proxy.endpoint];
  const gcDirect = () => runDiskless(['gc', ...direct(), `s3://${bucket}`], { env: env() });

  beforeAll(async () => {
    bucket = await createTestBucket('faults');
    work = mkdtempSync(join(tmpdir(), 'diskless-faults-'));
    execFileSync('sh', ['-c', `head -c ${16 * MiB} /dev/urandom > ${work}/src.bin`]);
    proxy = await startFaultProxy({ target: testS3().endpoint });
  });

  afterAll(async () => {
    await proxy.close();
    await emptyTestBucket(bucket);
    rmSync(work, { recursive: true, force: true });
  });

  const once = (match: (r: ProxiedRequest) => boolean, fault: ReturnType<FaultRule>): FaultRule => {
    let done = false;
    return (r) => {
      if (done || !match(r)) return undefined;
      done = true;
      return fault;
    };
  };

  it('a 500 on the abort of the write check is retried: no upload is left open', async () => {
    proxy.setRule(once(isProbeAbort, { kind: 'status', status: 500 }));
    const r = await runDiskless(['put', ...via(), `s3://${bucket}/probe/one.bin`], { env: env(), stdin: randomStream(1000, 'p').stream });
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.counts.status).toBeGreaterThanOrEqual(1);
    expect(await listOpenUploads(bucket)).toEqual([]);
  }, 60_000);

  it('a write check whose abort keeps failing is journaled, and gc through the store\'s own endpoint aborts it (journaled through the proxy)', async () => {
    proxy.setRule((r) => (isProbeAbort(r) ? { kind: 'status', status: 503 } : undefined));
    const r = await runDiskless(['put', ...via(), '--retry-for', '2', `s3://${bucket}/probe/two.bin`], { env: env(), stdin: randomStream(1000, 'q').stream });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/could not abort the write check's upload/);
    expect((await listOpenUploads(bucket)).map((u) => u.Key)).toEqual([expect.stringMatching(/^probe\/two\.bin\.diskless-preflight-/)]);
    proxy.setRule(() => undefined);
    // Not older than gc's default 24 h: only the journal (matched by bucket and upload id, not by endpoint) can tell it is a leftover.
    const gc = await gcDirect();
    expect(gc.code, gc.stderr).toBe(0);
    expect(await listOpenUploads(bucket)).toEqual([]);
  }, 60_000);

  it('a damaged CompleteMultipartUpload body and a damaged part are retried; the warnings name the request and the store\'s error', async () => {
    const flipComplete = once(isComplete, { kind: 'flip-request' });
    // A part of the object itself (not of the preflight's probe upload, which may run at the same time).
    const flipPart = once((r) => isUploadPart(r) && r.url.includes('/damaged.bin?'), { kind: 'flip-request' });
    proxy.setRule((r) => flipComplete(r) ?? flipPart(r));
    const r = await runDiskless(['put', ...via(), `s3://${bucket}/damaged.bin`, '--', 'cat', join(work, 'src.bin')], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/CompleteMultipartUpload of damaged\.bin: attempt 1 failed \(XAmzContentSHA256Mismatch \(400\)/);
    expect(r.stderr).toMatch(/UploadPart \d+ of damaged\.bin: attempt 1 failed \(BadDigest \(400\)/);
    expect(sha256(await objectBytes(bucket, 'damaged.bin'))).toBe(sha256(readFileSync(join(work, 'src.bin'))));
  }, 60_000);

  it('a store that refuses the checksum header at CreateMultipartUpload (as Backblaze B2 does) gets Content-MD5 parts: put works, --part-checksum crc32c is refused', async () => {
    const refuse = (r: ProxiedRequest) =>
      r.method === 'POST' && r.url.includes('?uploads') && r.headers['x-amz-checksum-algorithm'] !== undefined
        ? ({ kind: 'status', status: 400, message: "Unsupported header 'x-amz-checksum-algorithm' received for this API call." } as const)
        : undefined;
    proxy.setRule(refuse);
    try {
      const r = await runDiskless(['put', ...via(), '-v', `s3://${bucket}/b2like.bin`, '--', 'cat', join(work, 'src.bin')], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/refused to begin an upload with CRC32C part checksums \(InvalidArgument \(400\): Unsupported header/);
      expect(r.stderr).toContain('parts carry Content-MD5');
      expect(sha256(await objectBytes(bucket, 'b2like.bin'))).toBe(sha256(readFileSync(join(work, 'src.bin'))));
      const strict = await runDiskless(['put', ...via(), '--part-checksum', 'crc32c', `s3://${bucket}/b2strict.bin`, '--', 'cat', join(work, 'src.bin')], { env: env() });
      expect(strict.code, strict.stderr).toBe(3);
      expect(strict.stderr).toMatch(/did not take CRC32C part checksums/);
      expect(await listKeys(bucket, 'b2strict.bin')).toEqual([]);
    } finally {
      proxy.setRule(() => undefined);
    }
    expect((await listOpenUploads(bucket)).filter((u) => u.Key?.startsWith('b2'))).toEqual([]);
  }, 60_000);

  it('a part damaged on every attempt fails the put after three BadDigest refusals in a row, long before --retry-for, and leaves nothing', async () => {
    proxy.setRule((r) => (isUploadPart(r) && r.url.includes('/always-damaged.bin?') ? { kind: 'flip-request' } : undefined));
    const r = await runDiskless(['put', ...via(), '--retry-for', '120', `s3://${bucket}/always-damaged.bin`, '--', 'cat', join(work, 'src.bin')], { env: env(), timeoutMs: 90_000 });
    proxy.setRule(() => undefined);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/UploadPart \d+ of always-damaged\.bin: the store refused the body's checksum 3 times in a row \(BadDigest \(400\)/);
    expect(r.durationMs).toBeLessThan(60_000);
    expect(await listKeys(bucket, 'always-damaged.bin')).toEqual([]);
    expect((await listOpenUploads(bucket)).filter((u) => u.Key === 'always-damaged.bin')).toEqual([]);
  }, 120_000);

  it('a store that stalls after some MiB fails the put within --retry-for + --request-timeout + the abort budget; gc leaves nothing open', async () => {
    const start = proxy.bytesForwarded;
    proxy.setRule((r) => (r.bytesForwarded - start > 6 * MiB ? { kind: 'stall', ms: Number.POSITIVE_INFINITY } : undefined));
    const timing = ['--retry-for', '4', '--request-timeout', '3', '--connect-timeout', '2', '--part-size', '5MiB'];
    const r = await runDiskless(['put', ...via(), ...timing, `s3://${bucket}/stall.bin`, '--', 'cat', join(work, 'src.bin')], { env: env(), timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(4);
    // 4 s of retries + 3 s for the request in flight + at most 4 s of abort retries + 3 s for the abort in flight, plus start-up.
    expect(r.durationMs).toBeLessThan(4_000 + 3_000 + 4_000 + 3_000 + 10_000);
    expect(await listKeys(bucket, 'stall.bin')).toEqual([]);
    proxy.setRule(() => undefined);
    const gc = await gcDirect();
    expect(gc.code, gc.stderr).toBe(0);
    expect(await listOpenUploads(bucket)).toEqual([]);
  }, 120_000);

  it('get resumes after connections reset mid-body (ranged GETs retried whole) and returns the bytes stored', async () => {
    const body = readFileSync(join(work, 'src.bin'));
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'get/src.bin', Body: body }));
    for (let run = 0; run < 3; run++) {
      let resets = 0;
      proxy.setRule((r) => (r.method === 'GET' && resets < 2 ? (resets++, { kind: 'reset-response', afterBytes: (run + 1) * 2 * MiB }) : undefined));
      const got = await runDiskless(['get', ...via(), `s3://${bucket}/get/src.bin`], { env: env() });
      expect(got.code, got.stderr).toBe(0);
      expect(got.stderr).toMatch(/resuming/);
      expect(got.stdoutSha256).toBe(sha256(body));
    }
  }, 120_000);

  it('put soak with 500s, SlowDowns, resets and damaged bodies: every run stores a byte-identical object or fails cleanly; nothing left open after gc', async () => {
    const runs = 6;
    const tally = { runs, identical: 0, cleanFailures: 0, corrupt: 0, faults: 0 };
    const before = Object.values(proxy.counts).reduce((a, b) => a + b, 0) - proxy.counts.forwarded;
    for (let i = 0; i < runs; i++) {
      proxy.setRule(randomFaults(SOAK_RATES, 1000 + i));
      const key = `soak/put-${i}.bin`;
      const size = 60 * MiB;
      const { stream, digest } = randomStream(size, key);
      const r = await runDiskless(['put', ...via(), '--part-size', '5MiB', `s3://${bucket}/${key}`], { env: env(), stdin: stream, timeoutMs: 240_000 });
      const stored = await listKeys(bucket, key);
      if (r.code === 0) {
        if (sha256(await objectBytes(bucket, key)) === (await digest)) tally.identical++;
        else tally.corrupt++;
      } else if ([3, 4].includes(r.code ?? -1) && stored.length === 0 && /diskless: error: /.test(r.stderr)) tally.cleanFailures++;
      else tally.corrupt++;
    }
    tally.faults = Object.values(proxy.counts).reduce((a, b) => a + b, 0) - proxy.counts.forwarded - before;
    proxy.setRule(() => undefined);
    const gc = await gcDirect();
    expect(gc.code, gc.stderr).toBe(0);
    const open = (await listOpenUploads(bucket)).length;
    console.log(`put soak: ${JSON.stringify({ ...tally, openUploadsAfterGc: open })}`);
    expect(tally.corrupt).toBe(0);
    expect(tally.identical + tally.cleanFailures).toBe(runs);
    expect(tally.faults).toBeGreaterThan(0);
    expect(open).toBe(0);
  }, 600_000);

  it('run soak with the same faults: every run commits byte-identical files and a manifest, or fails cleanly leaving no object; nothing left open after gc', async () => {
    const runs = 3;
    const tally = { runs, identical: 0, cleanFailures: 0, corrupt: 0, faults: 0 };
    const before = Object.values(proxy.counts).reduce((a, b) => a + b, 0) - proxy.counts.forwarded;
    const want = sha256(readFileSync(join(work, 'src.bin')));
    for (let i = 0; i < runs; i++) {
      proxy.setRule(randomFaults(SOAK_RATES, 2000 + i));
      const prefix = `soak/run-${i}/`;
      const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
      const script = `for i in 1 2 3; do cat ${work}/src.bin > ${dir}/f$i & done; wait`;
      const r = await runDiskless(['run', ...via(), '--part-size', '5MiB', '--to', `s3://${bucket}/${prefix}`, '--dir', dir, '--', 'sh', '-c', script], {
        env: env(),
        timeoutMs: 240_000,
      }).finally(() => rmSync(dir, { recursive: true, force: true }));
      const keys = await listKeys(bucket, prefix);
      if (r.code === 0) {
        const files = ['f1', 'f2', 'f3'];
        const same = keys.length === 4 && (await Promise.all(files.map(async (f) => sha256(await objectBytes(bucket, prefix + f))))).every((h) => h === want);
        if (same) tally.identical++;
        else tally.corrupt++;
      } else if ([3, 4, 5].includes(r.code ?? -1) && keys.length === 0) tally.cleanFailures++;
      else tally.corrupt++;
    }
    tally.faults = Object.values(proxy.counts).reduce((a, b) => a + b, 0) - proxy.counts.forwarded - before;
    proxy.setRule(() => undefined);
    const gc = await gcDirect();
    expect(gc.code, gc.stderr).toBe(0);
    const open = (await listOpenUploads(bucket)).length;
    console.log(`run soak: ${JSON.stringify({ ...tally, openUploadsAfterGc: open })}`);
    expect(tally.corrupt).toBe(0);
    expect(tally.identical + tally.cleanFailures).toBe(runs);
    expect(open).toBe(0);
  }, 600_000);
});
