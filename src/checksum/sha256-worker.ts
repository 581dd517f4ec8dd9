import { Worker } from 'node:worker_threads';

/** One slot of the ring the main thread fills and the worker hashes. */
const SLOT_SIZE = 1024 * 1024;
/** Slots in the ring: at most this many MiB wait for the worker. */
const SLOTS = 16;

/**
 * The worker: hashes slot `s` (its first `n` bytes) of the shared ring when told {s, n}, answers
 * {done: s}; told null, answers {digest}.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
const ring = new Uint8Array(workerData.ring);
parentPort.on('message', (m) => {
  if (m === null) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(ring.subarray(m.s * ${SLOT_SIZE}, m.s * ${SLOT_SIZE} + m.n));
  parentPort.postMessage({ done: m.s });
});
`;

/**
 * SHA-256 on a worker thread, so that hashing a read-back (about 2 s per GiB) runs beside the
 * main thread's network reads instead of between them, as `aws s3 cp - | sha256sum` gets from its
 * pipe. The bytes go through a ring of 16 × 1 MiB slots in shared memory: `update` copies into
 * the slot being filled and hands a slot over only once it is full, so a GiB costs a thousand
 * messages and no allocation (one message and one copied ArrayBuffer per 64 KiB socket chunk cost
 * get a quarter of its CPU in postMessage and garbage collection). When every slot waits for the
 * worker, `update` resolves once one is free.
 */
export class OffThreadSha256 {
  private readonly ring = new SharedArrayBuffer(SLOT_SIZE * SLOTS);
  private readonly bytes = new Uint8Array(this.ring);
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring: this.ring } });
  /** Slots free to fill, in the order they come back. */
  private readonly free: number[] = Array.from({ length: SLOTS }, (_, i) => i);
  private slot: number | undefined;
  private filled = 0;
  private waiting: (() => void) | undefined;
  private digestWaiter: ((hex: string) => void) | undefined;
  private failure: Error | undefined;

  constructor() {
    this.worker.on('message', (m: { done?: number; digest?: string }) => {
      if (m.digest !== undefined) {
        this.digestWaiter?.(m.digest);
        return;
      }
      if (m.done !== undefined) this.free.push(m.done);
      this.wake();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.wake();
      this.digestWaiter?.('');
    });
  }

  /** Adds `chunk` (copied: the caller may reuse it once this resolves). */
  async update(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      if (this.failure) throw this.failure;
      if (this.slot === undefined) {
        while (this.free.length === 0) {
          await new Promise<void>((resolve) => (this.waiting = resolve));
          if (this.failure) throw this.failure;
        }
        this.slot = this.free.shift()!;
        this.filled = 0;
      }
      const n = Math.min(SLOT_SIZE - this.filled, chunk.length - at);
      this.bytes.set(chunk.subarray(at, at + n), this.slot * SLOT_SIZE + this.filled);
      this.filled += n;
      at += n;
      if (this.filled === SLOT_SIZE) this.handOver();
    }
  }

  async hex(): Promise<string> {
    if (this.failure) throw this.failure;
    if (this.slot !== undefined && this.filled > 0) this.handOver();
    const digest = new Promise<string>((resolve) => (this.digestWaiter = resolve));
    this.worker.postMessage(null);
    try {
      const hex = await digest;
      if (this.failure) throw this.failure;
      return hex;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (the read failed). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private handOver(): void {
    this.worker.postMessage({ s: this.slot, n: this.filled });
    this.slot = undefined;
    this.filled = 0;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
