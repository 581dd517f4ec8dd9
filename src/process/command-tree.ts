import { spawn } from 'node:child_process';
import { reapChild } from '../native/process-control.js';
import { trackCommand } from './command-processes.js';
import { descendants } from './descendants.js';

export interface CommandExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The command could not be started (spawn's error). */
  error?: Error;
}

/** A user's command run by `run` or `run --from` (stdio inherited), with whatever it starts. */
export interface CommandTree {
  readonly exited: Promise<CommandExit>;
  /** Signals the command and every descendant of this process (orphans are re-parented to us, the subreaper). */
  stop(signal: NodeJS.Signals): void;
  /** Ends what start() set up: the abort listener, and the registration a second signal kills (command-processes.ts). */
  dispose(): void;
}

/**
 * Starts `argv` with `env`, registered so that a second SIGINT/SIGTERM kills it; aborting `signal`
 * sends it and its descendants SIGTERM. Call dispose() once the command and its descendants are
 * done with.
 */
export function startCommandTree(argv: readonly string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): CommandTree {
  const [file, ...args] = argv;
  const child = spawn(file!, args, { stdio: 'inherit', env });
  const untrack = trackCommand(child.pid);
  const exited = new Promise<CommandExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  });
  const stop = (sig: NodeJS.Signals) => {
    for (const pid of [child.pid, ...descendants()]) if (pid) safeKill(pid, sig);
  };
  const onAbort = () => stop('SIGTERM');
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    exited,
    stop,
    dispose() {
      signal?.removeEventListener('abort', onAbort);
      untrack();
    },
  };
}

/** How a command ended, for messages: "the command exited with status 2: pg_dump …". */
export function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null }, display: string): string {
  return exit.signal ? `the command was killed by ${exit.signal}: ${display}` : `the command exited with status ${exit.code}: ${display}`;
}

/**
 * Waits until this process has no live child, or the deadline. As a subreaper, every orphaned
 * descendant of the command becomes our child, so direct children are all there is to watch;
 * those that exit are reaped here (libuv only reaps the children it spawned).
 */
export async function waitForDescendants(deadline: number): Promise<void> {
  for (;;) {
    const alive = descendants(process.pid, 1).filter((pid) => !reaped(pid));
    if (alive.length === 0 || Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reaps `pid` if it has exited; true if it is gone (exited now, or already reaped elsewhere). */
export function reaped(pid: number): boolean {
  try {
    return reapChild(pid) !== null;
  } catch {
    return true; // ECHILD: not (or no longer) ours to wait for
  }
}

export function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
