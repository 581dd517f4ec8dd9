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

/** Reads one frame; undefined if the connection ends (or is destroyed) first. */
export function readFrame(socket: Socket): Promise<AnyMessage | undefined> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buffered = Buffer.concat([buffered, c]);
      const f = takeFrame(buffered);
      if (f) {
        cleanup();
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

/** Opens a virtual file, writes `data`, ends it, and returns the REPLY and the RESULT. */
export async function writeFile(socketPath: string, token: string, path: string, data: Buffer, flags = 0o1101) {
  const s = await connectTo(socketPath);
  s.write(encodeFrame('OPEN', { token, path, flags, mode: 0o644, pid: process.pid }));
  const reply = await readFrame(s);
  if (!reply || reply.name !== 'REPLY' || reply.fields.err !== 0) {
    s.destroy();
    return { reply, result: undefined };
  }
  const resultP = readFrame(s);
  s.end(data);
  const result = await resultP;
  s.destroy();
  return { reply, result };
}
