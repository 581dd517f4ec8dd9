import { PreflightError } from '../errors.js';
import { runChecked, type CommandRunner } from './command-runner.js';

/** One row of `lvs --reportformat json`, typed. Sizes in bytes. */
export interface LogicalVolume {
  vg: string;
  name: string;
  /** `/dev/vg/lv`; empty for hidden LVs. */
  path: string;
  /** `/dev/mapper/vg-lv`. */
  dmPath: string;
  /** lv_attr, e.g. `-wi-ao----`; [0] is the volume type (s = snapshot, V = thin volume, t = thin pool). */
  attr: string;
  size: number;
  /** Origin of a snapshot (classic or thin); empty otherwise. */
  origin: string;
  /** Thin pool of a thin volume; empty otherwise. */
  pool: string;
  /** Snapshot/thin usage in percent; null when not reported (inactive, or a plain LV). */
  dataPercent: number | null;
  metadataPercent: number | null;
  segtype: string;
  tags: string[];
  /** Kernel device number when active; null when inactive. */
  major: number | null;
  minor: number | null;
}

export interface VolumeGroup {
  name: string;
  size: number;
  free: number;
  extentSize: number;
  freeExtents: number;
}

export const LV_FIELDS = [
  'vg_name', 'lv_name', 'lv_path', 'lv_dm_path', 'lv_attr', 'lv_size', 'origin', 'pool_lv',
  'data_percent', 'metadata_percent', 'segtype', 'lv_tags', 'lv_kernel_major', 'lv_kernel_minor',
] as const;
export const VG_FIELDS = ['vg_name', 'vg_size', 'vg_free', 'vg_extent_size', 'vg_free_count'] as const;

const REPORT_ARGS = ['--reportformat', 'json', '--units', 'b', '--nosuffix'];

/** `lvs` rows for `selectors` (`vg`, `vg/lv`), or every LV (hidden ones included with `all`). */
export async function listLvs(run: CommandRunner, selectors: readonly string[] = [], options: { all?: boolean } = {}): Promise<LogicalVolume[]> {
  const argv = ['lvs', ...REPORT_ARGS, ...(options.all ? ['-a'] : []), '-o', LV_FIELDS.join(','), ...selectors];
  return parseLvsReport(await runChecked(run, argv));
}

export async function listVgs(run: CommandRunner, names: readonly string[] = []): Promise<VolumeGroup[]> {
  const argv = ['vgs', ...REPORT_ARGS, '-o', VG_FIELDS.join(','), ...names];
  return parseVgsReport(await runChecked(run, argv));
}

/** One LV by `vg/lv`; undefined if lvs does not know it. */
export async function findLv(run: CommandRunner, vg: string, lv: string): Promise<LogicalVolume | undefined> {
  const result = await run(['lvs', ...REPORT_ARGS, '-o', LV_FIELDS.join(','), `${vg}/${lv}`]);
  if (result.code !== 0) return undefined;
  return parseLvsReport(result.stdout)[0];
}

export function parseLvsReport(json: string): LogicalVolume[] {
  return reportRows(json, 'lv').map((r) => ({
    vg: str(r, 'vg_name'),
    name: str(r, 'lv_name'),
    path: str(r, 'lv_path'),
    dmPath: str(r, 'lv_dm_path'),
    attr: str(r, 'lv_attr'),
    size: num(r, 'lv_size') ?? 0,
    origin: str(r, 'origin'),
    pool: str(r, 'pool_lv'),
    dataPercent: num(r, 'data_percent'),
    metadataPercent: num(r, 'metadata_percent'),
    segtype: str(r, 'segtype'),
    tags: str(r, 'lv_tags').split(',').filter(Boolean),
    major: deviceNumber(r, 'lv_kernel_major'),
    minor: deviceNumber(r, 'lv_kernel_minor'),
  }));
}

export function parseVgsReport(json: string): VolumeGroup[] {
  return reportRows(json, 'vg').map((r) => ({
    name: str(r, 'vg_name'),
    size: num(r, 'vg_size') ?? 0,
    free: num(r, 'vg_free') ?? 0,
    extentSize: num(r, 'vg_extent_size') ?? 0,
    freeExtents: num(r, 'vg_free_count') ?? 0,
  }));
}

/** A snapshot LV (classic `s`/`S`, or any LV with an origin: thin snapshots). */
export function isSnapshot(lv: LogicalVolume): boolean {
  return lv.attr.startsWith('s') || lv.attr.startsWith('S') || lv.origin !== '';
}

export function isThin(lv: LogicalVolume): boolean {
  return lv.segtype === 'thin' || lv.pool !== '';
}

/** lv_attr[4] = I: a classic snapshot that overflowed and was dropped by the kernel. */
export function isInvalidSnapshot(lv: LogicalVolume): boolean {
  return lv.attr.startsWith('S') || lv.attr[4] === 'I';
}

/** A hidden or internal LV (`[pool_tdata]`), a thin pool, or anything without a device path. */
export function isInternal(lv: LogicalVolume): boolean {
  return lv.path === '' || lv.name.startsWith('[') || lv.attr.startsWith('t') || lv.segtype === 'thin-pool';
}

/** `lvs` JSON: `{"report":[{"lv":[{…}]}]}`; every value a string (empty when not applicable). */
function reportRows(json: string, kind: 'lv' | 'vg'): Array<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new PreflightError(`cannot read the JSON report of ${kind}s from LVM: ${(err as Error).message}`);
  }
  const report = (parsed as { report?: Array<Record<string, unknown>> }).report;
  if (!Array.isArray(report)) throw new PreflightError(`the ${kind}s report of LVM has no "report" array`);
  const rows: Array<Record<string, unknown>> = [];
  for (const section of report) {
    const list = section[kind];
    if (Array.isArray(list)) for (const row of list) if (row && typeof row === 'object') rows.push(row as Record<string, unknown>);
  }
  return rows;
}

function str(row: Record<string, unknown>, key: string): string {
  const v = row[key];
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

function num(row: Record<string, unknown>, key: string): number | null {
  const s = str(row, key);
  if (s === '') return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

function deviceNumber(row: Record<string, unknown>, key: string): number | null {
  const v = num(row, key);
  return v === null || v < 0 ? null : v;
}
