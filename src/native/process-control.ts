import type { Socket } from 'node:net';
import type { PeerCredentials, ReapedChild } from './addon-types.js';
import { loadAddon } from './load-addon.js';

export type { PeerCredentials, ReapedChild };

/** Node's socket handle on Linux carries the kernel fd; this reads it without `any`. */
function socketFd(socket: Socket): number {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  const fd = typeof handle === 'object' && handle !== null ? (handle as { fd?: unknown }).fd : undefined;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a Unix socket)');
  return fd;
}

/** Who is at the other end of an accepted Unix socket connection (SO_PEERCRED). */
export function peerCredentials(socket: Socket): PeerCredentials {
  return loadAddon().peerCredentials(socketFd(socket));
}

/** `use(fd)` of the socket's descriptor, or `closed` when it has none any more (closed here). */
function withFd<T>(socket: Socket, closed: T, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = socketFd(socket);
  } catch {
    return closed;
  }
  return use(fd);
}

/**
 * Whether every holder of the other end of an accepted Unix socket has closed it (or shut its write side down): no
 * byte will come after those still unread. False for a socket already closed here.
 */
export function peerHungUp(socket: Socket): boolean {
  return withFd(socket, false, (fd) => loadAddon().peerHungUp(fd));
}

/**
 * Whether every holder of the other end of a Unix socket connection has closed it, as opposed to a peer that only
 * shut its write side down and still holds it (wire.def: the clean end of a file). True for a socket already
 * closed here: nobody can be holding its other end for an answer any more.
 */
export function peerClosed(socket: Socket): boolean {
  return withFd(socket, true, (fd) => loadAddon().peerClosed(fd));
}

/**
 * The bytes already queued on a socket Node is not reading (an accepted connection still paused), up to `max`,
 * taken without waiting: empty when none are, or when the socket has no descriptor any more.
 */
export function takeQueued(socket: Socket, max: number): Buffer {
  return withFd(socket, Buffer.alloc(0), (fd) => loadAddon().recvQueued(fd, max));
}

/**
 * A duplicate (close-on-exec) of the fd of an accepted Unix socket, for a new net.Socket to own: the
 * original socket can then be destroyed without closing the connection (src/ingest/socket-reader.ts).
 */
export function duplicateSocketFd(socket: Socket): number {
  return loadAddon().dupFd(socketFd(socket));
}

/** Makes this process the reaper of its orphaned descendants (prctl PR_SET_CHILD_SUBREAPER). */
export function setChildSubreaper(on: boolean): void {
  loadAddon().setChildSubreaper(on);
}

/** Collects the exit of a re-parented orphan `pid`; null while it still runs. */
export function reapChild(pid: number): ReapedChild | null {
  return loadAddon().reapChild(pid);
}

/** A raw pipe, both ends close-on-exec: [readFd, writeFd]. */
export function rawPipe(): [number, number] {
  return loadAddon().pipe();
}

/**
 * Enlarges the pipe `fd` (F_SETPIPE_SZ) so one read returns up to `bytes` instead of the default
 * 64 KiB: fewer thread-pool round trips per MiB (issue 13). Returns the pipe's size, 0 if fd is not a pipe.
 */
export function growPipe(fd: number, bytes: number): number {
  return loadAddon().growPipe(fd, bytes);
}

/** Clears O_NONBLOCK on `fd`, so that fs.read waits for data. */
export function setBlocking(fd: number): void {
  loadAddon().setBlocking(fd);
}
