import { UsageError } from '../errors.js';
import { parseSize } from '../util/size.js';
import type { Compression } from './tar-stream.js';

export type SnapshotMethod = 'lvm' | 'btrfs' | 'fsfreeze' | 'none';
export const SNAPSHOT_METHODS: readonly SnapshotMethod[] = ['lvm', 'btrfs', 'fsfreeze', 'none'];

interface VolumeBase {
  /** What the user calls it: `vg0/data` or `/srv/data`. */
  label: string;
  /** Used in keys: `vg0-data`, `srv-data`, `root`. */
  name: string;
  /** Where the volume is mounted, null for an unmounted LV. */
  mountpoint: string | null;
  fstype: string;
  /** Object key of the archive (prefix included). */
  key: string;
}

export type LvmSnapshotPlan =
  | { kind: 'classic'; name: string; size: number }
  | { kind: 'thin'; name: string; pool: string };

export interface LvmVolume extends VolumeBase {
  method: 'lvm';
  vg: string;
  lv: string;
  /** Size of the origin LV, bytes. */
  size: number;
  snapshot: LvmSnapshotPlan;
}

export interface PathVolume extends VolumeBase {
  method: 'btrfs' | 'fsfreeze' | 'none';
  /** The subvolume (btrfs), mount point (fsfreeze) or directory (none) to archive. */
  path: string;
}

export type VolumePlan = LvmVolume | PathVolume;

/** `--snapshot-size`: bytes, or a percentage of the origin (`10%ORIGIN`, as lvcreate -l writes it). */
export type SnapshotSize = { bytes: number } | { percentOfOrigin: number };

export const DEFAULT_SNAPSHOT_SIZE: SnapshotSize = { percentOfOrigin: 10 };

export function parseSnapshotSize(text: string): SnapshotSize {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*ORIGIN\s*$/i.exec(text);
  if (m) {
    const percent = Number(m[1]);
    if (!(percent > 0 && percent <= 100)) throw new UsageError(`--snapshot-size: ${text}: the percentage must be above 0 and at most 100`);
    return { percentOfOrigin: percent };
  }
  if (/%/.test(text)) throw new UsageError(`--snapshot-size: write a size (512MiB) or a percentage of the origin (10%ORIGIN), got "${text}"`);
  const bytes = parseSize(text, '--snapshot-size');
  if (bytes <= 0) throw new UsageError('--snapshot-size must be more than 0');
  return { bytes };
}

/** Bytes of copy-on-write space for an origin of `originSize`, rounded up to whole extents. */
export function snapshotBytes(spec: SnapshotSize, originSize: number, extentSize: number): number {
  const raw = 'bytes' in spec ? spec.bytes : Math.ceil((originSize * spec.percentOfOrigin) / 100);
  const extent = extentSize > 0 ? extentSize : 4 * 1024 * 1024;
  return Math.max(1, Math.ceil(raw / extent)) * extent;
}

export function describeSnapshotSize(spec: SnapshotSize): string {
  return 'bytes' in spec ? `${spec.bytes} bytes` : `${spec.percentOfOrigin}%ORIGIN`;
}

/** `/` → root, `/srv/data` → srv-data: a name for keys. */
export function pathSlug(path: string): string {
  const slug = path.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9._-]+/g, '-');
  return slug === '' ? 'root' : slug;
}

export const DEFAULT_KEY_TEMPLATE = '{host}/{name}-{timestamp}{ext}';
const KEY_VARS = ['host', 'name', 'vg', 'lv', 'timestamp', 'ext', 'method'] as const;
type KeyVar = (typeof KEY_VARS)[number];

/** Checks a --key template before anything happens: known variables, and {timestamp}+{name}-free templates warned. */
export function checkKeyTemplate(template: string): void {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(KEY_VARS as readonly string[]).includes(m[1]!)) {
      throw new UsageError(`--key: unknown variable {${m[1]}}; use ${KEY_VARS.map((v) => `{${v}}`).join(', ')}`);
    }
  }
  if (template.startsWith('/')) throw new UsageError('--key must not start with /: it is relative to the --to prefix');
}

/** The archive key of one volume: prefix + the template with its variables filled in. */
export function renderKey(
  prefix: string,
  template: string,
  vars: { host: string; name: string; vg?: string; lv?: string; timestamp: string; compress?: Compression; method: SnapshotMethod },
): string {
  const ext = vars.compress === 'zstd' ? '.tar.zst' : vars.compress === 'gzip' ? '.tar.gz' : '.tar';
  const values: Record<KeyVar, string> = {
    host: vars.host,
    name: vars.name,
    vg: vars.vg ?? '',
    lv: vars.lv ?? vars.name,
    timestamp: vars.timestamp,
    ext,
    method: vars.method,
  };
  return prefix + template.replace(/\{([a-z]+)\}/g, (_, v: string) => values[v as KeyVar] ?? '');
}

/** `20261121T101502Z`: sortable, no characters that need escaping in keys. */
export function keyTimestamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}
