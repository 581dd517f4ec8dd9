import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/checksum/crc32c.js';
import { compositeCrc32c, crc32cBase64 } from '../../../src/upload/part-checksum.js';
import { startDiscardSink, type DiscardSink } from '../../support/discard-sink.js';

// The discard sink (bench/discard-sink.mjs): its GetObject, what the read benchmarks rely on, and its CRC32C part
// checksums, what `--part-checksum auto` is measured against.
const MiB = 1024 * 1024;
let sink: DiscardSink;
let endpoint = '';

/** The first `n` bytes of the sink's pattern, from its --generate mode. */
const pattern = (n: number) => execFileSync('node', ['bench/discard-sink.mjs', '--generate', String(n)], { maxBuffer: n + 1 });

beforeAll(async () => {
  sink = await startDiscardSink();
  endpoint = sink.endpoint;
});
afterAll(async () => {
  await sink?.stop();
});

async function multipartOf(key: string, parts: Buffer[]): Promise<string> {
  const created = await (await fetch(`${endpoint}/b/${key}?uploads`, { method: 'POST' })).text();
  const uploadId = /<UploadId>(\w+)<\/UploadId>/.exec(created)![1]!;
  const etags: string[] = [];
  for (const [i, body] of parts.entries()) {
    const res = await fetch(`${endpoint}/b/${key}?partNumber=${i + 1}&uploadId=${uploadId}`, { method: 'PUT', body });
    etags.push(res.headers.get('etag')!);
  }
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const done = await (await fetch(`${endpoint}/b/${key}?uploadId=${uploadId}`, { method: 'POST', body: xml })).text();
  return /<ETag>(.*?)<\/ETag>/.exec(done)![1]!.replace(/&quot;/g, '"');
}

describe('the discard sink', () => {
  it('returns a small PutObject body as it was stored', async () => {
    const body = randomBytes(1000);
    expect((await fetch(`${endpoint}/b/small`, { method: 'PUT', body })).status).toBe(200);
    const got = await fetch(`${endpoint}/b/small`);
    expect(Buffer.from(await got.arrayBuffer())).toEqual(body);
  });

  it('regenerates a multipart object of the pattern for a range across its parts, pinned to its ETag', async () => {
    const size = 12 * MiB + 5;
    const bytes = pattern(size);
    const etag = await multipartOf('pattern', [bytes.subarray(0, 7 * MiB), bytes.subarray(7 * MiB)]);
    const whole = await fetch(`${endpoint}/b/pattern`);
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
    const range = await fetch(`${endpoint}/b/pattern`, { headers: { Range: `bytes=${7 * MiB - 10}-${7 * MiB + 9}`, 'If-Match': etag } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes ${7 * MiB - 10}-${7 * MiB + 9}/${size}`);
    expect(Buffer.from(await range.arrayBuffer())).toEqual(bytes.subarray(7 * MiB - 10, 7 * MiB + 10));
    expect((await fetch(`${endpoint}/b/pattern`, { headers: { 'If-Match': '"0123"' } })).status).toBe(412);
  });

  it('refuses to read back a large object that is not the pattern (its bytes were dropped)', async () => {
    const first = pattern(6 * MiB);
    await multipartOf('other', [first, randomBytes(MiB)]);
    expect((await fetch(`${endpoint}/b/other`)).status).toBe(400);
    await fetch(`${endpoint}/b/random`, { method: 'PUT', body: randomBytes(2 * MiB) });
    expect((await fetch(`${endpoint}/b/random`)).status).toBe(400);
  });

  it('takes CRC32C part checksums as AWS does: says so at Create, checks and echoes each part\'s, answers the composite at Complete and Head', async () => {
    const created = await fetch(`${endpoint}/b/crc?uploads`, { method: 'POST', headers: { 'x-amz-checksum-algorithm': 'CRC32C' } });
    expect(created.headers.get('x-amz-checksum-algorithm')).toBe('CRC32C');
    const uploadId = /<UploadId>(\w+)<\/UploadId>/.exec(await created.text())![1]!;
    const parts = [randomBytes(5 * MiB), randomBytes(1000)];
    const url = (n: number) => `${endpoint}/b/crc?partNumber=${n}&uploadId=${uploadId}`;
    const wrong = await fetch(url(1), { method: 'PUT', body: parts[0], headers: { 'x-amz-checksum-crc32c': crc32cBase64(crc32c(parts[0]!) ^ 1) } });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toMatch(/BadDigest/);
    expect((await fetch(url(1), { method: 'PUT', body: parts[0] })).status).toBe(400); // none at all
    const etags: string[] = [];
    for (const [i, body] of parts.entries()) {
      const res = await fetch(url(i + 1), { method: 'PUT', body, headers: { 'x-amz-checksum-crc32c': crc32cBase64(crc32c(body)) } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-checksum-crc32c')).toBe(crc32cBase64(crc32c(body)));
      etags.push(res.headers.get('etag')!);
    }
    const listed = (withCrc: boolean) =>
      `<CompleteMultipartUpload>${etags
        .map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag>${withCrc ? `<ChecksumCRC32C>${crc32cBase64(crc32c(parts[i]!))}</ChecksumCRC32C>` : ''}</Part>`)
        .join('')}</CompleteMultipartUpload>`;
    expect((await fetch(`${endpoint}/b/crc?uploadId=${uploadId}`, { method: 'POST', body: listed(false) })).status).toBe(400);
    const done = await (await fetch(`${endpoint}/b/crc?uploadId=${uploadId}`, { method: 'POST', body: listed(true) })).text();
    const composite = compositeCrc32c(parts.map((p) => crc32c(p)));
    expect(done).toContain(`<ChecksumCRC32C>${composite}</ChecksumCRC32C>`);
    const head = await fetch(`${endpoint}/b/crc`, { method: 'HEAD', headers: { 'x-amz-checksum-mode': 'ENABLED' } });
    expect(head.headers.get('x-amz-checksum-crc32c')).toBe(composite);
    expect((await fetch(`${endpoint}/b/crc`, { method: 'HEAD' })).headers.get('x-amz-checksum-crc32c')).toBeNull();
  });

  it('ignores CRC32C part checksums with DISCARD_SINK_CHECKSUMS=0, as Ceph 16 does: Create names no algorithm', async () => {
    const other = await startDiscardSink({ DISCARD_SINK_CHECKSUMS: '0' });
    try {
      const created = await fetch(`${other.endpoint}/b/k?uploads`, { method: 'POST', headers: { 'x-amz-checksum-algorithm': 'CRC32C' } });
      expect(created.status).toBe(200);
      expect(created.headers.get('x-amz-checksum-algorithm')).toBeNull();
    } finally {
      await other.stop();
    }
  });
});
