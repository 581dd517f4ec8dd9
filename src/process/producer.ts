import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ProducerError } from '../errors.js';

export interface ProducerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Producer {
  /** The command's standard output. */
  readonly output: AsyncIterable<Uint8Array>;
  /** Resolves when the command has exited, however it exited. */
  readonly exited: Promise<ProducerExit>;
  /** Resolves if the command exited 0; otherwise rejects with a ProducerError naming the status. */
  succeeded(): Promise<void>;
  /** Stops the command (used when the upload fails, so it does not write into a pipe nobody reads). */
  stop(): void;
}

/**
 * Runs `argv` with its stdout piped to us and stdin and stderr inherited. What it wrote counts
 * only if it exits 0: `put -- CMD` commits after `succeeded()`, which is what a shell pipeline
 * (`mysqldump | diskless put`) cannot tell.
 */
export function startProducer(argv: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Producer {
  const [file, ...args] = argv;
  if (!file) throw new ProducerError('no command given after --');
  const child = spawn(file, args, { stdio: ['inherit', 'pipe', 'inherit'], env: options.env ?? process.env });
  const display = argv.map(shellQuote).join(' ');
  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<ProducerExit>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const output = (async function* () {
    // 'spawn' or 'error' comes first: a command that cannot start has no output to read.
    await Promise.race([once(child, 'spawn'), exited]);
    if (spawnError) throw describeSpawnError(file, spawnError);
    yield* child.stdout as AsyncIterable<Uint8Array>;
  })();
  return {
    output,
    exited,
    async succeeded() {
      const { code, signal } = await exited;
      if (spawnError) throw describeSpawnError(file, spawnError);
      if (code === 0) return;
      throw new ProducerError(
        signal ? `the command was killed by ${signal}: ${display}` : `the command exited with status ${code}: ${display}`,
        { exitStatus: code, signal },
      );
    },
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
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
