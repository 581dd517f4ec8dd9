const BLOCK = 512;
/** Header types with no data after the header, whatever their size field says (links, devices, directories, FIFOs). */
const NO_DATA = new Set(['1', '2', '3', '4', '5', '6']);

/**
 * Walks a tar archive as `tar -t` does, without keeping it: every member header must checksum,
 * every member's data must be there, and the archive must end with its end-of-archive block. A
 * stream cut anywhere (in a header, in a member's data, or at a member boundary) is an error.
 */
export class TarWalker {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Data bytes (with padding) still to skip in the current member. */
  private skip = 0;
  private offset = 0;
  private ended = false;
  private problem: string | undefined;
  private lastMember = '';
  members = 0;

  static looksLikeTar(head: Buffer): boolean {
    return head.length >= 263 && head.toString('latin1', 257, 262) === 'ustar';
  }

  /** Keeps no reference to `chunk` once it returns. */
  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.ended && !this.problem) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        this.offset += n;
        at += n;
        continue;
      }
      const need = BLOCK - this.pendingBytes;
      const n = Math.min(need, chunk.length - at);
      // A header split across chunks is kept past this write: as a copy (the caller may reuse `chunk`).
      const piece = chunk.subarray(at, at + n);
      this.pending.push(this.pendingBytes + n < BLOCK ? Buffer.from(piece) : piece);
      this.pendingBytes += n;
      at += n;
      if (this.pendingBytes === BLOCK) {
        const header = Buffer.concat(this.pending);
        this.pending = [];
        this.pendingBytes = 0;
        this.header(header);
        this.offset += BLOCK;
      }
    }
  }

  /** undefined when the archive is whole, else what is wrong with it. */
  end(): string | undefined {
    if (this.problem) return this.problem;
    if (this.ended) return undefined;
    if (this.skip > 0 || this.pendingBytes > 0) {
      return `tar: unexpected EOF at byte ${this.offset + this.pendingBytes} in member ${JSON.stringify(this.lastMember)} (the archive is truncated)`;
    }
    return `tar: no end-of-archive block after ${this.members} member(s) (the archive is truncated at a member boundary)`;
  }

  private header(h: Buffer): void {
    if (h.every((b) => b === 0)) {
      this.ended = true;
      return;
    }
    const name = cString(h, 0, 100);
    const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cString(h, 345, 155) : '';
    const stored = parseOctal(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (stored === undefined || stored !== sum) {
      this.problem = `tar: header checksum mismatch at byte ${this.offset} (after member ${JSON.stringify(this.lastMember)}): not a tar header`;
      return;
    }
    const size = parseSize(h);
    if (size === undefined) {
      this.problem = `tar: bad size field in the header of ${JSON.stringify(name)} at byte ${this.offset}`;
      return;
    }
    const type = String.fromCharCode(h[156]!);
    this.lastMember = prefix ? `${prefix}/${name}` : name;
    this.members++;
    const data = NO_DATA.has(type) ? 0 : size;
    this.skip = Math.ceil(data / BLOCK) * BLOCK;
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const end = b.indexOf(0, start);
  return b.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function parseOctal(b: Buffer, start: number, len: number): number | undefined {
  const text = b.toString('latin1', start, start + len).replace(/[\0 ]+$/g, '').replace(/^[ ]+/, '');
  if (!/^[0-7]*$/.test(text)) return undefined;
  return text === '' ? 0 : parseInt(text, 8);
}

/** The size field: octal, or GNU's base-256 for sizes of 8 GiB and more. */
function parseSize(h: Buffer): number | undefined {
  if (h[124]! & 0x80) {
    let v = h[124]! & 0x7f;
    for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
    return v;
  }
  return parseOctal(h, 124, 12);
}
