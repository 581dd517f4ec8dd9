import { readFileSync } from 'node:fs';

export interface MountEntry {
  /** `major:minor` of the mounted device. */
  device: string;
  /** Path of the mount point (octal escapes such as \040 decoded). */
  target: string;
  fstype: string;
  source: string;
  options: string[];
}

/** Parses /proc/self/mountinfo (see proc(5)). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const f = left.split(' ');
    const r = right.split(' ');
    out.push({
      device: f[2] ?? '',
      target: unescape(f[4] ?? ''),
      options: (f[5] ?? '').split(','),
      fstype: r[0] ?? '',
      source: unescape(r[1] ?? ''),
    });
  }
  return out;
}

export function readMountinfo(): MountEntry[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** Mounts at or below `dir`, deepest first (the order to unmount them). */
export function mountsBelow(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const base = dir.replace(/\/+$/, '');
  return entries
    .filter((m) => m.target === base || m.target.startsWith(`${base}/`))
    .sort((a, b) => b.target.length - a.target.length);
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
