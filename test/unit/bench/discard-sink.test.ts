import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The discard sink's GetObject (bench/discard-sink.mjs): what the read benchmarks rely on.
const MiB = 1024 * 1024;
let sink: ChildProcess;
let endpoint = '';

/** The first `n` bytes of the sink's pattern, from its --generate mode. */
const pattern = (n: number) => execFileSync('node', ['bench/discard-sink.mjs', '--generate', String(n)], { maxBuffer: n + 1 });

beforeAll(async () => {
  sink = spawn('node', ['bench/discard-sink.mjs', process.env['DISKLESS_TEST_SINK_PORT'] ?? '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    sink.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /DISCARD_SINK_ENDPOINT=(\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    sink.on('exit', (code) => reject(new Error(`the sink exited (${code})`)));
  });
});
afterAll(() => {
  sink?.kill();
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
});
