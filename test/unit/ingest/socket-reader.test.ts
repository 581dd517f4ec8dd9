import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SocketReader } from '../../../src/ingest/socket-reader.js';

let dir: string | undefined;
let server: Server | undefined;

afterEach(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  server = dir = undefined;
});

/** A connection as the ingest server gets it: accepted with highWaterMark 0, its first chunk already read. */
async function accepted(write: (client: Socket) => Promise<void> | void): Promise<{ reader: SocketReader; client: Socket }> {
  dir = mkdtempSync(join(tmpdir(), 'socket-reader-'));
  const path = join(dir, 's');
  const got = new Promise<Socket>((resolve) => {
    server = createServer({ allowHalfOpen: true, highWaterMark: 0 }, resolve);
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  const client = connect(path);
  const socket = await got;
  client.write(Buffer.from('FRAME+rest'));
  const it = socket.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  const first = (await it.next()).value as Buffer;
  const reader = new SocketReader(socket, first.subarray('FRAME'.length));
  void write(client);
  return { reader, client };
}

/** Reads everything as the part buffers do: blocks of `block` bytes, each used up before the next. */
async function readAll(reader: SocketReader, block: number, pause?: () => Promise<void>): Promise<Buffer> {
  const out: Buffer[] = [];
  let buf = Buffer.alloc(block);
  let used = 0;
  for (;;) {
    if (used === buf.length) {
      out.push(buf);
      buf = Buffer.alloc(block);
      used = 0;
      await pause?.();
    }
    const n = await reader.readInto(buf.subarray(used));
    if (n === 0) break;
    expect(n).toBeGreaterThan(0);
    used += n;
  }
  out.push(buf.subarray(0, used));
  return Buffer.concat(out);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('SocketReader', () => {
  it('delivers every byte in order into the memory it is given, whatever the block size', async () => {
    for (const block of [1 << 20, 100_000, 4096, 777]) {
      const data = randomBytes(3 * 1024 * 1024 + 12345);
      const { reader } = await accepted(async (client) => {
        for (let at = 0; at < data.length; ) {
          const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 300_000));
          if (!client.write(data.subarray(at, at + n))) await new Promise((r) => client.once('drain', r));
          at += n;
        }
        client.end();
      });
      const got = await readAll(reader, block);
      expect(got.subarray(0, 5).toString()).toBe('+rest');
      expect(sha(got.subarray(5))).toBe(sha(data));
      expect(reader.received).toBe(data.length + 5);
      server?.close();
    }
  });

  it('stops reading while the caller gives no memory, and the writer waits (backpressure), losing nothing', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    let written = 0;
    const { reader } = await accepted(async (client) => {
      const step = 64 * 1024;
      for (let at = 0; at < data.length; at += step) {
        if (!client.write(data.subarray(at, at + step))) await new Promise((r) => client.once('drain', r));
        written = at + step;
      }
      client.end();
    });
    await new Promise((r) => setTimeout(r, 300));
    // Nobody read: what the reader took is bounded by its staging block plus the kernel's queues.
    expect(reader.received).toBeLessThan(2 * 1024 * 1024);
    expect(written).toBeLessThan(data.length);
    const got = await readAll(reader, 1 << 20, () => new Promise((r) => setTimeout(r, 5)));
    expect(sha(got.subarray(5))).toBe(sha(data));
  });

  it('drains to the end after the caller gave up its memory, and is quiet once libuv left that memory', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const { reader, client } = await accepted(() => undefined);
    const block = Buffer.alloc(1 << 20);
    client.write(data.subarray(0, 300_000));
    await reader.readInto(block);
    const quiet = reader.quiesced();
    let settled = false;
    void quiet.then(() => (settled = true));
    const drained = reader.drain();
    client.end(data.subarray(300_000));
    await drained;
    await quiet;
    expect(settled).toBe(true);
    expect(reader.received).toBe(data.length + 5);
  });

  it('ends with every byte when the writer closes with bytes unread on its side (EOF or ECONNRESET, as a shim holder leaving the HANDLE frame)', async () => {
    const data = randomBytes(500_000);
    const { reader, client } = await accepted(() => undefined);
    // Bytes the peer never reads in its receive queue make its close a reset, as a shim's HANDLE frame does.
    reader.socket.write(Buffer.alloc(1 << 20)); // more than the peer reads ahead: some stays in its receive queue
    await new Promise((r) => setTimeout(r, 50));
    // The writer closes once the kernel has all its bytes (as the shim's close does), not before.
    client.write(data, () => client.destroy());
    const got = await readAll(reader, 1 << 20);
    expect(sha(got.subarray(5))).toBe(sha(data));
  });

  it('refuses new memory while the last view still has bytes it has not returned', async () => {
    const { reader, client } = await accepted(() => undefined);
    const a = Buffer.alloc(1 << 20);
    client.write(randomBytes(200_000));
    await reader.readInto(a);
    await new Promise((r) => setTimeout(r, 50));
    await expect(reader.readInto(Buffer.alloc(1000))).rejects.toThrow(/used up/);
    client.destroy();
  });
});
