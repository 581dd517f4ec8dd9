/** What a TransferMeter says at one moment; a copy, so a reader may keep it. */
export interface TransferSample {
  /** Bytes read from the input(s): the producer's output, or the files a program wrote. */
  bytesRead: number;
  /** Bytes the store acknowledged: parts and single objects it answered 200 for. */
  bytesStored: number;
  /** Streams (files, volumes, the one stream of `put`) being uploaded now. */
  streamsOpen: number;
  /** Streams that ended (committed or failed). */
  streamsDone: number;
  /** Expected total bytes read, when known (`--expected-size`, a volume's used space); else undefined. */
  bytesExpected?: number;
}

/**
 * The counters of every upload of one command, fed by the upload path itself (stream-uploader.ts
 * for bytes read, multipart-object.ts and single puts for bytes the store acknowledged), read by
 * whoever shows progress (the CLI's progress line). Counting costs a few additions per chunk.
 */
export class TransferMeter {
  private read = 0;
  private stored = 0;
  private open = 0;
  private done = 0;
  private expected: number | undefined;

  streamStarted(): void {
    this.open++;
  }

  streamEnded(): void {
    this.open--;
    this.done++;
  }

  bytesRead(n: number): void {
    this.read += n;
  }

  bytesStored(n: number): void {
    this.stored += n;
  }

  /** Adds to the expected total (several volumes of a snapshot add theirs as each starts). */
  expect(bytes: number): void {
    this.expected = (this.expected ?? 0) + bytes;
  }

  sample(): TransferSample {
    return {
      bytesRead: this.read,
      bytesStored: this.stored,
      streamsOpen: this.open,
      streamsDone: this.done,
      ...(this.expected !== undefined ? { bytesExpected: this.expected } : {}),
    };
  }
}
