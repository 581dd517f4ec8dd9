import { read } from 'node:fs';

/**
 * An input read straight into memory the caller owns (the upload's part buffers): no intermediate
 * chunk is allocated, garbage-collected and copied per read. Two kinds: a file descriptor read with
 * fs.read (stdin, a producer's pipe: `fdReader`), and a shim's socket read by libuv into the part
 * (src/ingest/socket-reader.ts).
 */
export interface ByteReader {
  /**
   * Places at least one byte at the start of `into` and returns how many; 0 at the end of the input.
   * The caller reads on with the view that follows the bytes it got (`into.subarray(n)`) until
   * `into` is used up, and only then gives other memory.
   */
  readInto(into: Uint8Array, signal?: AbortSignal): Promise<number>;
  /**
   * Resolves once no read can write into memory given to `readInto` any more, so that memory may go
   * to someone else; undefined when that is so as soon as a `readInto` has settled (fs.read).
   */
  quiesced?(): Promise<void>;
}

export function isByteReader(source: unknown): source is ByteReader {
  return typeof source === 'object' && source !== null && typeof (source as Partial<ByteReader>).readInto === 'function';
}

/** `fd` read with fs.read on the thread pool (a blocking fd: stdin, a pipe diskless created). */
export function fdReader(fd: number): ByteReader {
  return {
    readInto: (into) =>
      new Promise<number>((resolve, reject) => read(fd, into, 0, into.length, null, (err, n) => (err ? reject(err) : resolve(n)))),
  };
}
