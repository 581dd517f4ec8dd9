/**
 * The one live line at the bottom of a terminal (the progress line): redrawn in place with `\r` and
 * erase-line, cut to the terminal's width so it never wraps (a wrapped line cannot be redrawn), and
 * moved out of the way of every log line written through `print`. A few lines of our own instead of
 * a progress-bar library: one line of text needs no more.
 */
export class StatusLine {
  private text = '';

  constructor(private readonly out: NodeJS.WriteStream) {}

  get isTerminal(): boolean {
    return this.out.isTTY === true;
  }

  show(text: string): void {
    const width = Math.max((this.out.columns || 80) - 1, 20);
    this.text = text.length > width ? text.slice(0, width - 1) + '…' : text;
    this.out.write(`\r\x1b[K${this.text}`);
  }

  /** Erases the line (at the end of the work, or before an error message). */
  clear(): void {
    if (this.text === '') return;
    this.out.write('\r\x1b[K');
    this.text = '';
  }

  /** Runs `write` (output on another stream of the same terminal, e.g. stdout) with the line out of the way. */
  around(write: () => void): void {
    const text = this.text;
    this.clear();
    write();
    if (text !== '') this.show(text);
  }

  /** Writes whole lines above the status line, then draws it again. */
  print(lines: string): void {
    const text = this.text;
    this.clear();
    this.out.write(lines);
    if (text !== '') this.show(text);
  }
}

/** stderr's status line: every line diskless writes to stderr goes through it. */
export const stderrLine = new StatusLine(process.stderr);
