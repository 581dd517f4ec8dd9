import net from 'node:net';
import os from 'node:os';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { encodeFrame, takeFrame } from '../../../src/wire/frame-codec.js';
import { FakeUploader } from '../../fakes/fake-uploader.js';

const { errno } = os.constants;

let fake: FakeUploader;
beforeEach(async () => {
  fake = await FakeUploader.start();
});
afterEach(async () => {
  await fake.close();
});

/** Sends bytes, half-closes, and collects everything until the fake closes the connection. */
function exchange(bytes: Buffer, halfClose = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection(fake.socketPath, () => {
      if (halfClose) socket.end(bytes);
      else socket.write(bytes);
    });
    socket.on('data', (b: Buffer) => chunks.push(b));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

function answer(bytes: Buffer) {
  const taken = takeFrame(bytes);
  if (!taken) throw new Error(`no complete frame in ${bytes.length} bytes`);
  return taken.message;
}

describe('the fake uploader', () => {
  it('closes the connection on a malformed frame and counts it', async () => {
    const bad = Buffer.alloc(16, 0xff); // version 0xffff, length 0xffffffff
    const got = await exchange(bad, false);
    expect(got.length).toBe(0);
    expect(fake.malformedFrames).toBe(1);
    const truncated = encodeFrame('STAT', { token: fake.token, path: 'x' }).subarray(0, 12);
    await exchange(truncated);
    expect(fake.malformedFrames).toBe(2);
    await exchange(encodeFrame('REPLY', { err: 0, message: 'wrong direction' }));
    expect(fake.malformedFrames).toBe(3);
  });

  it('refuses a wrong token with EACCES', async () => {
    const got = await exchange(encodeFrame('UNLINK', { token: 'nope', path: 'x' }));
    expect(answer(got)).toEqual({ name: 'REPLY', fields: { err: errno.EACCES, message: Buffer.from('bad token') } });
    expect(fake.badTokens).toBe(1);
    expect(fake.requests).toEqual([]);
  });

  it('refuses paths that are not normalised with EINVAL', async () => {
    for (const p of ['/abs', 'a/../b', 'a//b', './a', '']) {
      const got = await exchange(encodeFrame('UNLINK', { token: fake.token, path: p }));
      expect(answer(got).fields).toMatchObject({ err: errno.EINVAL });
    }
  });

  it('stores the bytes of a file conversation and answers RESULT at EOF', async () => {
    const open = encodeFrame('OPEN', { token: fake.token, path: 'd/f', flags: 0o1101, mode: 0o644, pid: 1 });
    const got = await exchange(Buffer.concat([open, Buffer.from('payload')]));
    const reply = takeFrame(got);
    expect(reply?.message).toMatchObject({ name: 'REPLY', fields: { err: 0 } });
    expect(answer(reply?.rest ?? Buffer.alloc(0))).toMatchObject({ name: 'RESULT', fields: { err: 0, size: 7n } });
    expect(fake.text('d/f')).toBe('payload');
    const stat = answer(await exchange(encodeFrame('STAT', { token: fake.token, path: 'd/f' })));
    expect(stat).toMatchObject({ name: 'STAT_REPLY', fields: { err: 0, size: 7n } });
  });
});
