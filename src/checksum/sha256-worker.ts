import { Worker } from 'node:worker_threads';

/** The worker: hashes what it is sent, acknowledges each chunk's size, and answers null with the digest. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const hash = require('node:crypto').createHash('sha256');
parentPort.on('message', (m) => {
  if (m === null) parentPort.postMessage({ digest: hash.digest('hex') });
  else { hash.update(m); parentPort.postMessage({ done: m.byteLength }); }
});
`;

/** Bytes sent to the worker and not hashed yet, at most. */
const MAX_QUEUED = 32 * 1024 * 1024;

/**
 * SHA-256 on a worker thread, so that hashing a read-back (about 2 s per GiB) runs beside the
 * main thread's network reads instead of between them, as `aws s3 cp - | sha256sum` gets from its
 * pipe. At most 32 MiB wait for the worker: `update` resolves when there is room.
 */
export class OffThreadSha256 {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private queued = 0;
  private waiting: (() => void) | undefined;
  private digestWaiter: ((hex: string) => void) | undefined;
  private failure: Error | undefined;

  constructor() {
    this.worker.on('message', (m: { done?: number; digest?: string }) => {
      if (m.digest !== undefined) {
        this.digestWaiter?.(m.digest);
        return;
      }
      this.queued -= m.done ?? 0;
      if (this.queued <= MAX_QUEUED) this.wake();
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.wake();
    });
  }

  async update(chunk: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.queued += chunk.byteLength;
    // A view would be cloned with its whole backing buffer (a socket's pool slab): send an exact copy, transferred.
    const copy = new Uint8Array(chunk);
    this.worker.postMessage(copy, [copy.buffer]);
    if (this.queued > MAX_QUEUED) await new Promise<void>((resolve) => (this.waiting = resolve));
    if (this.failure) throw this.failure;
  }

  async hex(): Promise<string> {
    if (this.failure) throw this.failure;
    const digest = new Promise<string>((resolve) => (this.digestWaiter = resolve));
    this.worker.postMessage(null);
    try {
      return await digest;
    } finally {
      await this.worker.terminate();
    }
  }

  /** Stops the worker without a digest (the read failed). */
  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
