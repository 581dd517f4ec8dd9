import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ProducerError } from '../errors.js';
import { growPipe, rawPipe } from '../native/process-control.js';
import { trackCommand } from './command-processes.js';
import { describeExit } from './command-tree.js';
import { SLAB_SIZE } from '../upload/memory-budget.js';
import { redactArgv } from '../util/redact.js';

export interface ProducerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Producer {
  /** The read end of the command's standard output, a raw pipe (read it with fs.read). */
  readonly output: { fd: number };
  /** Resolves when the command has exited, however it exited. */
  readonly exited: Promise<ProducerExit>;
  /** Resolves if the command exited 0; otherwise rejects with a ProducerError naming the status. */
  succeeded(): Promise<void>;
  /** Stops the command (used when the upload fails, so it does not write into a pipe nobody reads). */
  stop(): void;
  /** Closes our end of the pipe (after the upload). */
  close(): void;
}

/**
 * Runs `argv` with its stdout piped to us and stdin and stderr inherited. What it wrote counts
 * only if it exits 0: `put -- CMD` commits after `succeeded()`, which is what a shell pipeline
 * (`mysqldump | diskless put`) cannot tell.
 */
export function startProducer(argv: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Producer {
  const [file, ...args] = argv;
  if (!file) throw new ProducerError('no command given after --');
  // A raw pipe rather than Node's stream: the uploader reads it straight into its buffers.
  const [readFd, writeFd] = rawPipe();
  growPipe(readFd, SLAB_SIZE); // one read fills a whole slab instead of 64 KiB
  let child;
  try {
    child = spawn(file, args, { stdio: ['inherit', writeFd, 'inherit'], env: options.env ?? process.env });
    const untrack = trackCommand(child.pid);
    child.once('exit', untrack);
  } finally {
    closeSync(writeFd); // the child has its copy: EOF comes when it (and its children) close theirs
  }
  const display = displayCommand(argv);
  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<ProducerExit>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const output = { fd: readFd };
  return {
    output,
    exited,
    async succeeded() {
      const { code, signal } = await exited;
      if (spawnError) throw describeSpawnError(file, spawnError);
      if (code === 0) return;
      throw new ProducerError(describeExit({ code, signal }, display), { exitStatus: code, signal });
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
    close() {
      try {
        closeSync(readFd);
      } catch {
        // already closed
      }
    },
  };
}

function describeSpawnError(file: string, err: NodeJS.ErrnoException): ProducerError {
  const why =
    err.code === 'ENOENT'
      ? 'command not found (check the name and PATH)'
      : err.code === 'EACCES'
        ? 'permission denied (is it executable?)'
        : err.message;
  return new ProducerError(`cannot start ${file}: ${why}`, {}, { cause: err });
}

/** Quotes an argument the way a shell would need it, for messages: `sh -c 'exit 3'`. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line for messages: quoted as a shell needs it, passwords replaced by *** (util/redact.ts). */
export function displayCommand(argv: readonly string[]): string {
  return redactArgv(argv).map(shellQuote).join(' ');
}
