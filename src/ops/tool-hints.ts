import { basename } from 'node:path';

/**
 * Advice for a command that failed under `diskless run`, for tools whose limits are known
 * (docs/tools/). Matches the command line loosely: a wrapper such as `sh -c '…'` is looked into.
 */
export function failureHints(command: readonly string[]): string[] {
  const words = command.flatMap((arg) => arg.split(/\s+/)).filter(Boolean);
  const hints: string[] = [];
  if (words.some((w) => basename(w) === 'pg_basebackup') && !walMethodIsSequential(words)) {
    hints.push(
      'pg_basebackup in tar format writes pg_wal.tar with seeks when it streams the WAL (-X stream, the default), ' +
        'which a file streamed to S3 cannot do; use -X fetch (the WAL goes inside base.tar) or -X none',
    );
  }
  return hints;
}

function walMethodIsSequential(words: string[]): boolean {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const value = w === '-X' || w === '--wal-method' ? words[i + 1] : /^(?:-X|--wal-method=)(.+)$/.exec(w)?.[1];
    if (value === 'fetch' || value === 'none' || value === 'f' || value === 'n') return true;
  }
  return false;
}
