import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerClosed, peerCredentials, peerHungUp, reapChild, setChildSubreaper, takeQueued } from '../../../src/native/process-control.js';

/** A Unix socket server that accepts one connection (not read by Node: paused), and a client connected to it. */
async function acceptOne(client: { allowHalfOpen?: boolean } = {}): Promise<{ socket: Socket; client: Socket }> {
  const path = join(mkdtempSync(join(tmpdir(), 'peer-')), 's');
  const accepted = new Promise<Socket>((resolve) => {
    const server = createServer({ allowHalfOpen: true, highWaterMark: 0, pauseOnConnect: true }, (s) => {
      resolve(s);
      server.close();
    }).listen(path);
  });
  const c = createConnection({ path, ...client });
  return { socket: await accepted, client: c };
}

describe('process control from the addon', () => {
  it('reads the pid and uid of the process at the other end of a Unix socket', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'peer-')), 's');
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer((s) => {
        resolve(s);
        server.close();
      }).listen(path);
    });
    // The client is another process, so the pid tells it apart from ours.
    const child = spawn(process.execPath, ['-e', `require('net').createConnection(${JSON.stringify(path)}); setTimeout(() => {}, 5000)`]);
    const socket = await accepted;
    const creds = peerCredentials(socket);
    expect(creds.pid).toBe(child.pid);
    expect(creds.uid).toBe(process.getuid!());
    socket.destroy();
    child.kill();
  });

  it('tells when every holder of the other end closed it, even with its bytes still unread (POLLRDHUP)', async () => {
    const { socket, client } = await acceptOne();
    expect(peerHungUp(socket)).toBe(false);
    await new Promise<void>((resolve) => client.end('unread bytes', () => resolve()));
    client.destroy();
    for (let i = 0; i < 100 && !peerHungUp(socket); i++) await new Promise((r) => setTimeout(r, 10));
    expect(peerHungUp(socket)).toBe(true);
    socket.destroy();
    expect(peerHungUp(socket), 'a socket closed here').toBe(false);
  });

  it('tells a peer that shut its write side down and still holds the connection from one that closed it (POLLHUP)', async () => {
    const { socket, client } = await acceptOne({ allowHalfOpen: true });
    expect(peerClosed(socket)).toBe(false);
    await new Promise<void>((resolve) => client.end('bytes', () => resolve()));
    for (let i = 0; i < 100 && !peerHungUp(socket); i++) await new Promise((r) => setTimeout(r, 10));
    expect([peerHungUp(socket), peerClosed(socket)], 'shut down, still held').toEqual([true, false]);
    client.destroy();
    for (let i = 0; i < 100 && !peerClosed(socket); i++) await new Promise((r) => setTimeout(r, 10));
    expect(peerClosed(socket), 'closed').toBe(true);
    socket.destroy();
    expect(peerClosed(socket), 'a socket closed here').toBe(true);
  });

  it('takes the bytes already queued on a socket Node is not reading, up to a limit, without waiting (none queued: empty)', async () => {
    const { socket, client } = await acceptOne();
    expect(takeQueued(socket, 16).length, 'nothing sent yet').toBe(0);
    await new Promise<void>((resolve) => client.write('0123456789abcdefXYZ', () => resolve()));
    for (let i = 0; i < 100; i++) await new Promise((r) => setTimeout(r, 1));
    expect(takeQueued(socket, 16).toString()).toBe('0123456789abcdef');
    expect(takeQueued(socket, 16).toString()).toBe('XYZ');
    expect(() => takeQueued(socket, 1 << 20)).toThrow(RangeError);
    client.destroy();
    socket.destroy();
    expect(takeQueued(socket, 16).length, 'a socket closed here').toBe(0);
  });

  it('refuses a socket that has no file descriptor', () => {
    const s = createConnection({ path: '/nonexistent/socket' });
    s.on('error', () => {});
    s.destroy();
    expect(() => peerCredentials(s)).toThrow(/no file descriptor/);
  });

  it('becomes the reaper of an orphaned grandchild and collects its exit status', async () => {
    setChildSubreaper(true);
    try {
      // sh starts a grandchild in the background and exits at once: the grandchild is re-parented to us.
      const sh = spawn('sh', ['-c', 'sleep 2 >/dev/null & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      sh.stdout.on('data', (c) => (out += c));
      await new Promise((r) => sh.on('close', r));
      const orphan = Number(out.trim());
      expect(reapChild(orphan)).toBeNull();
      let reaped = null;
      for (let i = 0; i < 100 && !reaped; i++) {
        await new Promise((r) => setTimeout(r, 50));
        reaped = reapChild(orphan);
      }
      expect(reaped).toEqual({ pid: orphan, code: 0, signal: null });
    } finally {
      setChildSubreaper(false);
    }
  });
});
