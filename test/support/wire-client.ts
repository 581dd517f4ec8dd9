import { connect, type Socket } from 'node:net';
import { takeFrame, encodeFrame, type AnyMessage, type MessageInput, type MessageName } from '../../src/wire/frame-codec.js';

/** A client speaking the shim's side of the wire protocol, for tests of the uploader side. */
export async function connectTo(socketPath: string): Promise<Socket> {
  const socket = connect({ path: socketPath, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

const leftovers = new WeakMap<Socket, Buffer>();

/**
 * Reads one frame; undefined if the connection ends (or is destroyed) first. Bytes after the frame
 * (the HANDLE that comes with an OPEN's REPLY) are kept for the next readFrame of the socket.
 */
export function readFrame(socket: Socket): Promise<AnyMessage | undefined> {
  return new Promise((resolve) => {
    let buffered = leftovers.get(socket) ?? Buffer.alloc(0);
    leftovers.delete(socket);
    const early = takeFrame(buffered);
    if (early) {
      if (early.rest.length > 0) leftovers.set(socket, early.rest);
      resolve(early.message);
      return;
    }
    const onData = (c: Buffer) => {
      buffered = Buffer.concat([buffered, c]);
      const f = takeFrame(buffered);
      if (f) {
        cleanup();
        if (f.rest.length > 0) leftovers.set(socket, f.rest);
        resolve(f.message);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onEnd);
  });
}

export async function request<N extends MessageName>(socketPath: string, name: N, fields: MessageInput<N>): Promise<AnyMessage | undefined> {
  const s = await connectTo(socketPath);
  s.write(encodeFrame(name, fields));
  const reply = await readFrame(s);
  s.destroy();
  return reply;
}

/**
 * Opens a virtual file, writes `data`, ends it, and returns the REPLY and the RESULT. How it ends (`end`):
 * - `mark` (default): as any holder's clean end does (wire.def: waits until the uploader has every byte, sends END),
 *   then shuts down and waits for the RESULT;
 * - `shutdown`: as the close of the certain last holder does: shuts the write side down, holds the connection until
 *   the RESULT, no END;
 * - `die`: as a killed writer: closes the connection at once (no END, no RESULT read).
 */
export async function writeFile(socketPath: string, token: string, path: string, data: Buffer, flags = 0o1101, opts: { end?: 'mark' | 'shutdown' | 'die' } = {}) {
  const s = await connectTo(socketPath);
  s.write(encodeFrame('OPEN', { token, path, flags, mode: 0o644, pid: process.pid }));
  const reply = await readFrame(s);
  if (!reply || reply.name !== 'REPLY' || reply.fields.err !== 0) {
    s.destroy();
    return { reply, result: undefined };
  }
  const handle = await readFrame(s);
  if (!handle || handle.name !== 'HANDLE') throw new Error(`expected HANDLE after REPLY, got ${handle?.name}`);
  const resultP = readFrame(s);
  await new Promise<void>((resolve) => s.write(data, () => resolve()));
  if (opts.end === 'die') {
    s.destroy();
    return { reply, result: undefined };
  }
  if (opts.end !== 'shutdown') await markEnd(socketPath, token, path, data.length, handle.fields.file);
  s.end();
  const result = await resultP;
  s.destroy();
  return { reply, result };
}

/** The shim's END, once STAT says the uploader has all `size` bytes of `path` (none if the file failed meanwhile). */
export async function markEnd(socketPath: string, token: string, path: string, size: number, file: bigint, how = 1): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    const st = await request(socketPath, 'STAT', { token, path });
    if (st?.name !== 'STAT_REPLY' || st.fields.err !== 0) return;
    if (Number(st.fields.size) >= size) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  await request(socketPath, 'END', { token, file, how });
}
