import { descendants } from './descendants.js';

/**
 * The user's commands this process started (`run`, `serve`-less `put -- CMD`): what a second
 * SIGINT/SIGTERM kills before diskless exits at once, so that no dump tool is left writing into a
 * socket nobody reads (issue 16). Snapshot helpers are never registered: killing an fsfreeze or
 * lvcreate half-way would be worse than letting it finish.
 */
const commands = new Set<number>();

/** Registers a started command; the returned function unregisters it (when it exited). */
export function trackCommand(pid: number | undefined): () => void {
  if (pid === undefined) return () => {};
  commands.add(pid);
  return () => commands.delete(pid);
}

/**
 * Kills every registered command and everything below this process (a `run` command's orphans
 * are re-parented to diskless, the subreaper). Returns how many processes were signalled.
 */
export function killCommands(signal: NodeJS.Signals = 'SIGKILL'): number {
  if (commands.size === 0) return 0;
  const pids = new Set([...commands, ...descendants()]);
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      n++;
    } catch {
      // already gone
    }
  }
  return n;
}
