import { execFile, execFileSync } from 'node:child_process';
import { ProducerError } from '../errors.js';
import { shellQuote } from '../process/producer.js';

export interface CommandResult {
  /** Exit status; null when killed by a signal; 127 when the program could not be started. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CommandOptions {
  /** Kill (SIGKILL) after this long; default 120 s. */
  timeoutMs?: number;
}

/**
 * How every system tool (lvs, lvcreate, mount, btrfs, fsfreeze …) is run: an argument array,
 * never a shell string. Injected everywhere so unit tests can replay recorded outputs.
 */
export type CommandRunner = (argv: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** LVM prints "File descriptor N leaked" for any fd a parent forgot; ours are harmless. */
const TOOL_ENV = { LVM_SUPPRESS_FD_WARNINGS: '1', LC_ALL: 'C' };

export const execRunner: CommandRunner = (argv, options = {}) =>
  new Promise((resolve) => {
    const [file, ...args] = argv;
    if (!file) throw new Error('empty command');
    execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...TOOL_ENV } },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string };
        if (e.code === 'ENOENT') return resolve({ code: 127, stdout: '', stderr: `${file}: command not found` });
        if (e.killed || e.signal) return resolve({ code: null, stdout, stderr: `${stderr}${file}: killed (${e.signal ?? 'timeout'})` });
        resolve({ code: typeof e.code === 'number' ? e.code : 1, stdout, stderr: stderr || e.message });
      },
    );
  });

/** The same, synchronously, for cleanup from process 'exit'. Throws on failure. */
export function runSyncChecked(argv: readonly string[], timeoutMs = 30_000): void {
  const [file, ...args] = argv;
  execFileSync(file!, args, { timeout: timeoutMs, stdio: 'ignore', env: { ...process.env, ...TOOL_ENV } });
}

export function displayCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** The last non-empty line of a tool's stderr: where LVM and mount put the reason. */
export function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

/** A failed system command as an error; `make` picks the class (ProducerError by default). */
export function commandFailed(
  argv: readonly string[],
  result: CommandResult,
  make: (message: string) => Error = (m) => new ProducerError(m),
): Error {
  const status = result.code === null ? 'was killed' : result.code === 127 ? 'could not be started' : `exited with status ${result.code}`;
  const why = lastLine(result.stderr);
  return make(`${displayCommand(argv)} ${status}${why ? `: ${why}` : ''}`);
}

/** Runs a command and returns its stdout; throws (commandFailed) unless it exits 0. */
export async function runChecked(
  run: CommandRunner,
  argv: readonly string[],
  options: CommandOptions & { make?: (message: string) => Error } = {},
): Promise<string> {
  const result = await run(argv, options);
  if (result.code !== 0) throw commandFailed(argv, result, options.make);
  return result.stdout;
}
