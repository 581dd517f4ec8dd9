import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { preloadEnv } from '../../src/native/preload-env.js';
import { shimPath } from '../../src/native/shim-path.js';
import { takeFrame, type AnyMessage, type MessageName } from '../../src/wire/frame-codec.js';
import { withoutDisklessEnv } from '../support/shim-harness.js';

/**
 * A peer that breaks the wire protocol on purpose, for the shim's side of it: every behaviour the
 * real uploader has is tested against the real one (test/support/shim-harness.ts). This one reads
 * the shim's first frame, sends what the script says (a bad frame, a wrong version, a truncated
 * reply, nothing), and either closes at once or reads the file's bytes to their end, sends what
 * the script says instead of a good RESULT, and closes.
 */
export interface ScriptedAnswer {
  /** Bytes sent after the first frame (any bytes at all: that is the point). */
  send: Buffer;
  /** Absent: close after sending. Else read the bytes that follow to their end, send these (none: just close), close. */
  atEof?: Buffer;
}

export class ScriptedPeer {
  /** The type of every first frame received, in arrival order. */
  readonly received: MessageName[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly root: string,
    readonly socketPath: string,
    readonly vdir: string,
    private readonly server: net.Server,
  ) {}

  static async start(script: (request: AnyMessage) => ScriptedAnswer): Promise<ScriptedPeer> {
    const root = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'diskless-scripted-peer-')));
    const vdir = path.join(root, 'vdir');
    mkdirSync(vdir);
    const socketPath = path.join(root, 'peer.sock');
    const server = net.createServer({ allowHalfOpen: true });
    const peer = new ScriptedPeer(root, socketPath, vdir, server);
    server.on('connection', (socket) => peer.serve(socket, script));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return peer;
  }

  /** The environment of a command under the shim, talking to this peer. */
  env(): NodeJS.ProcessEnv {
    return preloadEnv(withoutDisklessEnv(process.env), { shim: shimPath(), socket: this.socketPath, dir: this.vdir, token: 'scripted' });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.root, { recursive: true, force: true });
  }

  private serve(socket: net.Socket, script: (request: AnyMessage) => ScriptedAnswer): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    let answer: ScriptedAnswer | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (answer) return; // the file's bytes: dropped
      buffered = Buffer.concat([buffered, chunk]);
      const frame = takeFrame(buffered);
      if (!frame) return;
      this.received.push(frame.message.name);
      answer = script(frame.message);
      if (answer.atEof === undefined) socket.end(answer.send, () => socket.destroy());
      else socket.write(answer.send);
    });
    socket.on('end', () => {
      if (answer?.atEof) socket.end(answer.atEof, () => socket.destroy());
      else socket.destroy();
    });
  }
}
