import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const DISKLESS_BIN = fileURLToPath(new URL('../../bin/diskless.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdoutBytes: number;
  stdoutSha256: string;
  /** stdout itself when it is small (≤ 1 MiB), else undefined. */
  stdout?: Buffer;
  durationMs: number;
}

export interface RunOptions {
  env: Record<string, string>;
  /** Fed to stdin (then closed); stdin is /dev/null when absent. */
  stdin?: AsyncIterable<Uint8Array>;
  /** Called after this many stdin bytes were accepted by the child (`child` is its pid). */
  onStdinBytes?: { after: number; run: (child: number) => void | Promise<void> };
  /** Kill the child after this long (the test then fails on its exit status). */
  timeoutMs?: number;
  cwd?: string;
  /** Called with the pid of the diskless process once it runs. */
  onSpawn?: (pid: number) => void;
}

/**
 * Runs the built CLI as users run it: `bin/diskless.js` (its launcher, which sets its V8 flags),
 * and hashes what it writes to stdout.
 */
export function runDiskless(args: readonly string[], options: RunOptions): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(DISKLESS_BIN, [...args], {
    env: options.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (child.pid) options.onSpawn?.(child.pid);
  const hash = createHash('sha256');
  let stdoutBytes = 0;
  const small: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    hash.update(c);
    stdoutBytes += c.length;
    if (stdoutBytes <= 1 << 20) small.push(c);
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
  const trigger = options.onStdinBytes;
  if (options.stdin && child.stdin) {
    void feed(child.stdin, options.stdin, trigger && { after: trigger.after, run: () => trigger.run(child.pid!) });
  }
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code,
        signal,
        stderr,
        stdoutBytes,
        stdoutSha256: hash.digest('hex'),
        ...(stdoutBytes <= 1 << 20 ? { stdout: Buffer.concat(small) } : {}),
        durationMs: Date.now() - started,
      });
    });
  });
}

async function feed(
  stdin: NodeJS.WritableStream,
  source: AsyncIterable<Uint8Array>,
  trigger?: { after: number; run: () => void | Promise<void> },
): Promise<void> {
  let closed = false;
  let wake: (() => void) | undefined;
  // EPIPE when the child stops reading: expected in failure tests.
  stdin.on('error', () => {
    closed = true;
    wake?.();
  });
  let sent = 0;
  let fired = false;
  for await (const chunk of source) {
    if (closed) return;
    if (!stdin.write(chunk)) {
      await new Promise<void>((r) => {
        wake = r;
        stdin.once('drain', r);
      });
      stdin.removeAllListeners('drain');
    }
    sent += chunk.length;
    if (trigger && !fired && sent >= trigger.after) {
      fired = true;
      await trigger.run();
    }
  }
  if (!closed) stdin.end();
}

/**
 * `total` deterministic pseudo-random bytes (AES-256-CTR keystream, > 1 GB/s), in 256 KiB chunks,
 * so gigabyte tests need neither disk nor a slow generator. `digest` gets the SHA-256 when done.
 */
export function randomStream(total: number, seed = 'diskless'): { stream: AsyncIterable<Uint8Array>; digest: Promise<string> } {
  let resolveDigest!: (hex: string) => void;
  const digest = new Promise<string>((r) => (resolveDigest = r));
  async function* generate(): AsyncGenerator<Uint8Array> {
    const key = createHash('sha256').update(seed).digest();
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(256 * 1024);
    const hash = createHash('sha256');
    let left = total;
    while (left > 0) {
      const n = Math.min(left, zeros.length);
      const chunk = cipher.update(zeros.subarray(0, n));
      hash.update(chunk);
      left -= n;
      yield chunk;
    }
    resolveDigest(hash.digest('hex'));
  }
  return { stream: generate(), digest };
}

/** The SHA-256 of what `randomStream(total, seed)` yields, without keeping it. */
export async function randomStreamSha256(total: number, seed = 'diskless'): Promise<string> {
  const { stream, digest } = randomStream(total, seed);
  for await (const _ of stream) void _;
  return digest;
}
