import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { TarWalker } from './tar-walker.js';

/** A check of a file's content, fed its bytes in order; `end` says what is wrong, or nothing. */
export interface ContentCheck {
  /** What is checked: `tar`, `gzip+tar`, `zstd`, `pg_dump custom`… (set once the format is known). */
  readonly name: string;
  /** Resolves once `chunk` is no longer needed: the caller may then overwrite it (verify reads into reused buffers). */
  write(chunk: Buffer): Promise<void>;
  end(): Promise<ContentResult>;
}

export interface ContentResult {
  /** undefined when the content is whole. */
  problem?: string;
  /** Checked less than the format allows (a tool is missing): said, not a failure. */
  note?: string;
}

const SNIFF_BYTES = 512;

interface Format {
  name: string;
  test(head: Buffer): boolean;
  open(): ContentCheck;
}

const FORMATS: Format[] = [
  { name: 'tar', test: (h) => TarWalker.looksLikeTar(h), open: () => new TarCheck() },
  { name: 'gzip', test: (h) => h[0] === 0x1f && h[1] === 0x8b && h[2] === 0x08, open: () => new GzipCheck() },
  { name: 'zstd', test: (h) => h.readUInt32LE(0) === 0xfd2fb528, open: () => new ToolCheck('zstd', ['-dc'], true) },
  { name: 'xz', test: (h) => h.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), open: () => new ToolCheck('xz', ['-dc'], true) },
  { name: 'bzip2', test: (h) => h.toString('latin1', 0, 3) === 'BZh' && h[3]! >= 0x31 && h[3]! <= 0x39, open: () => new ToolCheck('bzip2', ['-dc'], true) },
  // pg_dump's custom format; a directory format's toc.dat starts the same way and is checked with its directory.
  { name: 'pg_dump custom', test: (h) => h.toString('latin1', 0, 5) === 'PGDMP', open: () => new ToolCheck('pg_restore', ['--list'], false, 'pg_dump custom') },
];

/**
 * The content check of a file, chosen by what its first bytes are (magic numbers, not names):
 * tar walked header by header; gzip decompressed with Node's zlib (trailer CRC and length
 * checked), zstd / xz / bzip2 by their Debian CLIs (`-dc`), a tar inside any of them walked too;
 * pg_dump custom format read by `pg_restore --list` from stdin. Anything else: checksums only.
 */
export function contentCheck(options: { skip?: (head: Buffer) => boolean } = {}): ContentCheck {
  return new Sniffer((head) => {
    if (options.skip?.(head)) return undefined;
    return FORMATS.find((f) => head.length >= 4 && f.test(head))?.open();
  });
}

/** Buffers the first bytes, then hands everything to the check their format calls for. */
class Sniffer implements ContentCheck {
  private head: Buffer[] = [];
  private headBytes = 0;
  private inner: ContentCheck | undefined;
  private decided = false;

  constructor(private readonly choose: (head: Buffer) => ContentCheck | undefined) {}

  get name(): string {
    return this.inner?.name ?? '';
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.decided) {
      await this.inner?.write(chunk);
      return;
    }
    this.headBytes += chunk.length;
    // Kept past this write only while the format is still unknown: then a copy (decide() copies the rest).
    this.head.push(this.headBytes >= SNIFF_BYTES ? chunk : Buffer.from(chunk));
    if (this.headBytes >= SNIFF_BYTES) await this.decide();
  }

  async end(): Promise<ContentResult> {
    if (!this.decided) await this.decide();
    return this.inner ? this.inner.end() : {};
  }

  private async decide(): Promise<void> {
    this.decided = true;
    const head = Buffer.concat(this.head);
    this.head = [];
    this.inner = this.choose(head);
    if (this.inner && head.length > 0) await this.inner.write(head);
  }
}

class TarCheck implements ContentCheck {
  readonly name = 'tar';
  private readonly walker = new TarWalker();
  write(chunk: Buffer): Promise<void> {
    this.walker.write(chunk);
    return Promise.resolve();
  }
  end(): Promise<ContentResult> {
    const problem = this.walker.end();
    return Promise.resolve(problem ? { problem } : {});
  }
}

/** The decompressed bytes of an archive: a tar inside is walked, anything else is dropped. */
class InnerTar {
  private head: Buffer[] = [];
  private headBytes = 0;
  walker: TarWalker | undefined;
  private decided = false;

  write(chunk: Buffer): void {
    if (this.decided) {
      this.walker?.write(chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes >= SNIFF_BYTES) this.decide();
  }

  end(): string | undefined {
    if (!this.decided) this.decide();
    return this.walker?.end();
  }

  private decide(): void {
    this.decided = true;
    const head = Buffer.concat(this.head);
    this.head = [];
    if (TarWalker.looksLikeTar(head)) {
      this.walker = new TarWalker();
      this.walker.write(head);
    }
  }
}

class GzipCheck implements ContentCheck {
  private readonly gunzip = createGunzip();
  private readonly inner = new InnerTar();
  private error: Error | undefined;
  private readonly done: Promise<void>;

  constructor() {
    this.gunzip.on('data', (c: Buffer) => this.inner.write(c));
    this.done = new Promise((resolve) => {
      this.gunzip.on('end', resolve);
      this.gunzip.on('error', (err) => {
        this.error = err;
        resolve();
      });
    });
  }

  get name(): string {
    return this.inner.walker ? 'gzip+tar' : 'gzip';
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.error) return;
    // Its callback comes once zlib has consumed `chunk`; an error is kept by the listener above and reported by end().
    await Promise.race([new Promise<void>((resolve) => this.gunzip.write(chunk, () => resolve())), this.done]);
  }

  async end(): Promise<ContentResult> {
    if (!this.error) this.gunzip.end();
    await this.done;
    if (this.error) return { problem: `gzip: ${this.error.message}` };
    const tar = this.inner.end();
    return tar ? { problem: `gzip: ${tar}` } : {};
  }
}

/**
 * A check by an external tool reading the bytes on stdin: a decompressor (`zstd -dc`…, whose
 * output is walked when it is a tar) or `pg_restore --list`. A tool that exits early (pg_restore
 * has read the table of contents) gets no more bytes; its exit status decides. A missing tool
 * leaves the file with its checksums checked only, and says so.
 */
class ToolCheck implements ContentCheck {
  private readonly child;
  private readonly inner = new InnerTar();
  private stderr = '';
  private missing = false;
  private exited = false;
  private readonly closed: Promise<number | null>;

  constructor(
    private readonly tool: string,
    args: string[],
    private readonly decompresses: boolean,
    private readonly label = tool,
  ) {
    this.child = spawn(tool, args, { stdio: ['pipe', decompresses ? 'pipe' : 'ignore', 'pipe'] });
    this.child.stdout?.on('data', (c: Buffer) => this.inner.write(c));
    this.child.stderr!.on('data', (c: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += c.toString();
    });
    this.child.stdin!.on('error', () => undefined); // EPIPE once the tool has exited: its status tells
    this.closed = new Promise((resolve) => {
      this.child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') this.missing = true;
        this.exited = true;
        resolve(null);
      });
      this.child.on('close', (code) => {
        this.exited = true;
        resolve(code);
      });
    });
  }

  get name(): string {
    return this.inner.walker ? `${this.label}+tar` : this.label;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.exited || this.child.stdin!.destroyed) return;
    // Its callback comes once `chunk` is in the pipe, or failed with EPIPE (the tool has read what it needs and exited: its exit status decides).
    await Promise.race([new Promise<void>((resolve) => this.child.stdin!.write(chunk, () => resolve())), this.closed]);
  }

  async end(): Promise<ContentResult> {
    if (!this.child.stdin!.destroyed) this.child.stdin!.end();
    const code = await this.closed;
    if (this.missing) return { note: `${this.tool} is not installed: ${this.label} content not checked, checksums only` };
    if (code !== 0) {
      const why = this.stderr.trim().split('\n').filter(Boolean).slice(-2).join('; ') || `exit status ${code}`;
      return { problem: `${this.label}: ${why}` };
    }
    const tar = this.decompresses ? this.inner.end() : undefined;
    return tar ? { problem: `${this.label}: ${tar}` } : {};
  }
}
