import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { contentCheck } from '../../../src/verify/content-check.js';

const dir = mkdtempSync(join(tmpdir(), 'diskless-content-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real tar (GNU tar) of a few files, one of them larger than a block and one with a long name (and `extra`, when given). */
function makeTar(extra?: Buffer): Buffer {
  const src = join(dir, extra ? 'src-extra' : 'src');
  execFileSync('mkdir', ['-p', join(src, 'sub')]);
  writeFileSync(join(src, 'a.txt'), 'hello\n');
  writeFileSync(join(src, 'sub', 'b.bin'), Buffer.alloc(70_000, 7));
  writeFileSync(join(src, 'sub', `${'n'.repeat(120)}.txt`), 'long name\n');
  if (extra) writeFileSync(join(src, 'extra.bin'), extra);
  const out = join(dir, extra ? 't-extra.tar' : 't.tar');
  execFileSync('tar', ['-cf', out, '-C', src, '.']);
  return readFileSync(out);
}

async function check(bytes: Buffer, chunk = 4096) {
  const c = contentCheck();
  for (let i = 0; i < bytes.length; i += chunk) await c.write(bytes.subarray(i, i + chunk));
  const r = await c.end();
  return { name: c.name, ...r };
}

const tar = makeTar();

describe('content checks by magic number', () => {
  it('walks a whole tar to its end-of-archive block', async () => {
    expect(await check(tar)).toEqual({ name: 'tar' });
  });

  it('names a tar cut inside a member, inside a header, and at a member boundary as truncated', async () => {
    // GNU tar's first member is "./" (a header, no data); the 70 000-byte member makes a cut in data likely anywhere past it.
    const sizes = [40_000, 1024 + 100, 70_001];
    for (const n of sizes) expect((await check(tar.subarray(0, n))).problem, `cut at ${n}`).toMatch(/^tar: unexpected EOF at byte \d+ in member "/);
    expect((await check(tar.subarray(0, 1024))).problem).toMatch(/no end-of-archive block after 2 member\(s\)/);
  });

  it('names a corrupted header', async () => {
    const bad = Buffer.from(tar);
    bad[1024 + 10] = bad[1024 + 10]! ^ 0xff;
    expect((await check(bad)).problem).toMatch(/header checksum mismatch at byte 1024/);
  });

  it('decompresses gzip with zlib, walks a tar inside, and names a truncated gzip', async () => {
    const gz = gzipSync(tar);
    expect(await check(gz)).toEqual({ name: 'gzip+tar' });
    expect(await check(gzipSync(Buffer.from('plain text\n'.repeat(1000))))).toEqual({ name: 'gzip' });
    expect((await check(gz.subarray(0, gz.length - 9))).problem).toMatch(/^gzip: unexpected end of file/);
  });

  it.each([
    ['zstd', ['-q', '-c']],
    ['xz', ['-c']],
    ['bzip2', ['-c']],
  ])('checks %s with its CLI, tar inside included, and names a truncated stream', async (tool, args) => {
    const packed = execFileSync(tool, args, { input: tar, maxBuffer: 1 << 26 });
    expect(await check(packed)).toEqual({ name: `${tool}+tar` });
    const r = await check(packed.subarray(0, Math.floor(packed.length / 2)));
    expect(r.problem).toMatch(new RegExp(`^${tool}: `));
  });

  it('says so, and fails nothing, when the CLI a format needs is not installed', async () => {
    const packed = execFileSync('zstd', ['-q', '-c'], { input: tar });
    const path = process.env['PATH'];
    process.env['PATH'] = join(dir, 'no-such-bin');
    try {
      expect(await check(packed)).toEqual({ name: 'zstd', note: 'zstd is not installed: zstd content not checked, checksums only' });
    } finally {
      process.env['PATH'] = path;
    }
  });

  // Random bytes inside, so that the compressed streams are as long as the tar (many pieces each).
  const noisy = makeTar(randomBytes(200_000));
  it.each([
    ['tar', noisy, 'tar'],
    ['gzip', gzipSync(noisy), 'gzip+tar'],
    ['zstd', execFileSync('zstd', ['-q', '-c'], { input: noisy, maxBuffer: 1 << 26 }), 'zstd+tar'],
  ])('uses no chunk of a %s after its write resolved: fed through one buffer overwritten after each write, it still checks whole', async (_f, bytes, name) => {
    // verify --deep reads into reused buffers; pieces of 100 bytes split the sniffed head and tar headers, larger ones too.
    for (const size of [100, 700, 5000]) {
      const c = contentCheck();
      const buf = Buffer.alloc(size);
      for (let i = 0; i < bytes.length; i += size) {
        const n = bytes.copy(buf, 0, i, i + size);
        await c.write(buf.subarray(0, n));
        buf.fill(0xa5);
      }
      const result = await c.end();
      expect({ name: c.name, ...result }, `pieces of ${size}`).toEqual({ name });
    }
  });

  it('leaves unknown content to the checksums', async () => {
    expect(await check(Buffer.from('just some bytes'))).toEqual({ name: '' });
  });
});
