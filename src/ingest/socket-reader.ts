import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { duplicateSocketFd, peerClosed } from '../native/process-control.js';
import type { ByteReader } from '../upload/byte-reader.js';

/** Where libuv's next read of the socket lands: the reader's own staging block, or the caller's memory. */
type Target = 'staging' | 'region' | 'paused';

const STAGING_SIZE = 64 * 1024;
/**
 * Staging blocks of readers that ended, for the next files: a run of many small files would
 * otherwise leave one 64 KiB block per file for the garbage collector (156 against 85 MiB peak RSS
 * for 2,000 files, bench/small-files.sh).
 */
const spareStaging: Buffer[] = [];
const SPARE_STAGING_MAX = 32;

/**
 * A file's bytes from the shim's socket, read by libuv straight into the upload's part buffers
 * (Node's `onread` with a buffer chosen after every read), instead of a 64 KiB chunk allocated per
 * read, pushed through a stream, copied into the part and collected (issue 13, goal 2).
 *
 * libuv takes the buffer for its next read when the previous read is reported, so the buffer
 * handed out must stay valid until then. The rules:
 * - The caller's memory (`region`, the view given to `readInto` and what follows the bytes already
 *   returned from it) is handed to libuv only while it has room; reads go on landing there after
 *   `readInto` has returned, and the caller's next `readInto` of the view that follows gets them.
 * - Otherwise (no region, or it is full) reads land in a small staging block of the reader's own;
 *   the next region gets those bytes first (copied: at most 64 KiB per region), and libuv's reads
 *   land after the room kept for them.
 * - With the staging block full and no region, reading pauses (the writer then blocks: backpressure).
 * - A caller that gives up its memory before using it all (a failed upload) waits for `quiesced()`.
 */
export class SocketReader implements ByteReader {
  /** The connection, now owned by this reader (writes: REPLY, RESULT). */
  readonly socket: Socket;
  private staging: Buffer;
  private stagingGone = false;
  /** Staged bytes not yet handed over: staging[stagedFrom, stagedTo). */
  private stagedFrom = 0;
  private stagedTo = 0;
  /** The caller's memory: bytes [start, landed) arrived and were not yet returned; reads land at `landed`. */
  private region: { view: Uint8Array; start: number; landed: number } | undefined;
  /** Bytes at region.start kept for the staged bytes (those came first). */
  private kept = 0;
  private target: Target = 'staging';
  private ended = false;
  private shutDown = false;
  private failure: Error | undefined;
  private draining = false;
  private wake: (() => void) | undefined;
  private quiet: Array<() => void> = [];
  private count = 0;

  /**
   * Takes over an accepted connection whose first frame was read (`rest`: the bytes read after it).
   * The old socket must have nothing left unread in Node (its reads stopped: highWaterMark 0).
   */
  constructor(accepted: Socket, rest: Buffer) {
    // Whatever Node read past the first frame and still holds (nothing, with highWaterMark 0) comes first.
    const held: unknown = accepted.readableLength > 0 ? accepted.read() : null;
    if (Buffer.isBuffer(held)) rest = Buffer.concat([rest, held]);
    // (The shim sends nothing after OPEN before its REPLY, so `rest` is empty in practice.)
    this.staging = rest.length === 0 ? (spareStaging.pop() ?? Buffer.allocUnsafeSlow(STAGING_SIZE)) : Buffer.allocUnsafe(rest.length + STAGING_SIZE);
    rest.copy(this.staging);
    this.stagedTo = rest.length;
    this.count = rest.length;
    const fd = duplicateSocketFd(accepted);
    accepted.destroy();
    // `onread` is read by net.Socket's constructor too (Node >= 12), though @types/node lists it for connect() only.
    const onread: OnReadOpts = { buffer: () => this.nextBuffer(), callback: (n) => this.arrived(n) };
    const options: SocketConstructorOpts & { onread: OnReadOpts } = { fd, readable: true, writable: true, allowHalfOpen: true, onread };
    this.socket = new Socket(options);
    this.socket.on('end', () => {
      // Told now, before anything is answered: the shim holds the connection until it has its RESULT.
      this.shutDown = !peerClosed(this.socket);
      this.finish();
    });
    this.socket.on('close', () => this.finish());
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      // The last holder closed with the HANDLE frame unread in its receive queue (wire.def): the
      // kernel reports ECONNRESET instead of EOF, after every byte sent. END tells a clean end.
      if (err.code !== 'ECONNRESET') this.failure ??= err;
      this.finish();
    });
  }

  /**
   * Whether the input ended with the peer's shutdown of its write side while it still held the connection (the shim's
   * clean end of a file it certainly holds the last reference to, wire.def), not with every holder closing it.
   */
  get endedByShutdown(): boolean {
    return this.shutDown;
  }

  /** Bytes received from the program so far (handed over or not). */
  get received(): number {
    return this.count;
  }

  async readInto(into: Uint8Array, signal?: AbortSignal): Promise<number> {
    this.take(into);
    for (;;) {
      const r = this.region!;
      if (this.stagedTo > this.stagedFrom && (this.kept > 0 || this.target !== 'region')) this.unstage(r);
      this.giveBackStaging();
      const ready = this.kept > 0 ? 0 : r.landed - r.start;
      if (ready > 0) {
        r.start = r.landed;
        return ready;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return 0;
      if (this.target === 'paused') this.resume();
      await this.arrival(signal);
    }
  }

  quiesced(): Promise<void> {
    if (this.target !== 'region' || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.quiet.push(resolve));
  }

  /** Reads and drops everything up to the end of the input (a failed file: the program must reach its close()). */
  async drain(): Promise<void> {
    this.draining = true;
    this.region = undefined;
    this.kept = 0;
    this.stagedFrom = this.stagedTo = 0;
    while (!this.ended) {
      if (this.target === 'paused') this.resume();
      await this.arrival();
    }
  }

  /** `into` becomes the region: the view that follows the last bytes returned, or new memory. */
  private take(into: Uint8Array): void {
    const r = this.region;
    if (r && into.buffer === r.view.buffer && into.byteOffset === r.view.byteOffset + r.start) {
      if (into.byteOffset + into.length !== r.view.byteOffset + r.view.length) throw new Error('SocketReader: the view that follows does not end where the last one did');
      return;
    }
    if (r && (r.landed > r.start || this.kept > 0 || (this.target === 'region' && r.landed < r.view.length))) {
      throw new Error('SocketReader: new memory given before the last view was used up');
    }
    this.region = { view: into, start: 0, landed: 0 };
    this.kept = 0;
  }

  /** Staged bytes (they came before any in the region) move to the region's start. */
  private unstage(r: NonNullable<SocketReader['region']>): void {
    const n = this.kept > 0 ? this.kept : Math.min(this.stagedTo - this.stagedFrom, r.view.length - r.start);
    r.view.set(this.staging.subarray(this.stagedFrom, this.stagedFrom + n), r.start);
    this.stagedFrom += n;
    if (this.kept === 0) r.landed = r.start + n;
    this.kept = 0;
    // Once empty, the staging block starts over, unless libuv is reading into it right now.
    if (this.stagedFrom === this.stagedTo && this.target !== 'staging') this.stagedFrom = this.stagedTo = 0;
  }

  /** libuv read `n` bytes into the buffer nextBuffer() last gave; false pauses reading. */
  private arrived(n: number): boolean {
    this.count += n;
    if (this.target === 'region') {
      if (this.region) this.region.landed += n; // else: given up while libuv read into it (drain)
    } else this.stagedTo += n;
    if (this.draining) this.stagedFrom = this.stagedTo = 0;
    this.wake?.();
    return this.decide();
  }

  /** Chooses where the next read lands (see the class comment); false when there is nowhere. */
  private decide(): boolean {
    const r = this.region;
    const staged = this.stagedTo - this.stagedFrom;
    if (r && this.target === 'region' && r.landed < r.view.length) return true;
    if (r && this.target !== 'region' && this.kept === 0 && r.landed === r.start && r.view.length - r.start > staged) {
      // Room in the region beyond what the staged bytes need: keep that room for them, read after it.
      this.kept = staged;
      r.landed = r.start + staged;
      this.target = 'region';
      if (staged === 0) this.stagedFrom = this.stagedTo = 0;
      return true;
    }
    if (this.target === 'region') this.settle();
    if (this.stagedTo < this.staging.length) {
      this.target = 'staging';
      return true;
    }
    this.target = 'paused';
    return false;
  }

  private nextBuffer(): Uint8Array {
    const r = this.region;
    if (this.target === 'region' && r) return r.view.subarray(r.landed, r.view.length);
    // Paused: reading resumes only once the staging block is empty (resume), so its start is free then.
    if (this.target === 'paused') return this.staging;
    return this.staging.subarray(this.stagedTo);
  }

  /** Reading goes on once the staging block is empty: libuv then reads into its start (nextBuffer when paused). */
  private resume(): void {
    if (this.stagedTo > this.stagedFrom && !this.draining) return; // the caller still has staged bytes to take
    this.stagedFrom = this.stagedTo = 0;
    this.target = 'staging';
    this.socket.resume();
  }

  private settle(): void {
    for (const done of this.quiet.splice(0)) done();
  }

  private finish(): void {
    this.ended = true;
    this.settle();
    this.giveBackStaging();
    this.wake?.();
  }

  /** At the end, once nothing staged is left to hand over, the staging block goes to the next reader. */
  private giveBackStaging(): void {
    if (!this.ended || this.stagingGone || this.stagedTo > this.stagedFrom) return;
    this.stagingGone = true;
    if (this.staging.length === STAGING_SIZE && spareStaging.length < SPARE_STAGING_MAX) spareStaging.push(this.staging);
    this.staging = Buffer.alloc(0);
  }

  private arrival(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.wake = undefined;
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => {
        this.wake = undefined;
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
    });
  }
}
