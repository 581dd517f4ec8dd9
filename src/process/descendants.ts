import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the live descendants of `pid` (children listed by /proc), down to `depth` generations. */
export function descendants(pid: number = process.pid, depth = Number.POSITIVE_INFINITY): number[] {
  const out: number[] = [];
  const queue: Array<[number, number]> = [[pid, 0]];
  while (queue.length > 0) {
    const [p, level] = queue.shift()!;
    if (level >= depth) continue;
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(/\s+/).filter(Boolean).map(Number)) {
        out.push(c);
        queue.push([c, level + 1]);
      }
    }
  }
  return out;
}

/** `comm` of a process, for messages. */
export function processName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}
