/**
 * Which backups a retention policy keeps: the rules of restic's `forget`, on UTC calendar
 * periods. Pure: no store, no clock (the caller passes the backups' times).
 *
 * - `last`: the newest N backups.
 * - `hourly`, `daily`, `weekly`, `monthly`, `yearly`: walking from the newest backup to the
 *   oldest, the first (newest) backup of each period is kept until N periods have one. A period
 *   with no backup does not use up a slot (restic's rule: "the last N days which have backups").
 *   Weeks are ISO 8601 weeks (Monday to Sunday); every period is in UTC. When fewer periods
 *   than N have a backup, the oldest backup is kept too (restic 0.17's rule: a young series
 *   keeps its first backup until the series is long enough).
 * - `within`: every backup at most this many milliseconds older than the newest backup (restic
 *   measures from the newest snapshot too, so a host that stopped backing up keeps its last ones).
 * - The newest backup is always kept, whatever the policy.
 *
 * A backup is kept when any rule keeps it; the reasons are returned for the plan.
 */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  withinMs?: number;
}

export interface Dated {
  id: string;
  time: Date;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  /** Why it is kept, e.g. `last`, `daily 2026-12-01`, `within 7d`, `newest`. */
  reasons: string[];
}

type PeriodRule = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

const PERIODS: ReadonlyArray<[PeriodRule, (d: Date) => string]> = [
  ['hourly', (d) => d.toISOString().slice(0, 13)],
  ['daily', (d) => d.toISOString().slice(0, 10)],
  ['weekly', isoWeek],
  ['monthly', (d) => d.toISOString().slice(0, 7)],
  ['yearly', (d) => d.toISOString().slice(0, 4)],
];

/** True when the policy keeps anything beyond the newest backup (an empty policy is refused by the CLI). */
export function hasRules(p: RetentionPolicy): boolean {
  return [p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly, p.withinMs].some((v) => v !== undefined && v > 0);
}

/** Decisions for `backups` (any order), newest first. */
export function applyRetention(backups: readonly Dated[], policy: RetentionPolicy): RetentionDecision[] {
  const sorted = [...backups].sort((a, b) => b.time.getTime() - a.time.getTime() || b.id.localeCompare(a.id));
  const reasons = new Map<string, string[]>(sorted.map((b) => [b.id, []]));
  const add = (id: string, why: string) => reasons.get(id)!.push(why);

  sorted.slice(0, Math.max(0, policy.last ?? 0)).forEach((b) => add(b.id, 'last'));
  for (const [rule, periodOf] of PERIODS) {
    const n = policy[rule] ?? 0;
    const seen = new Set<string>();
    for (const b of sorted) {
      if (seen.size >= n) break;
      const period = periodOf(b.time);
      if (seen.has(period)) continue;
      seen.add(period);
      add(b.id, `${rule} ${period}`);
    }
    // restic ≥ 0.17: with fewer periods than asked for, the oldest backup is kept as well.
    const oldest = sorted[sorted.length - 1];
    if (n > 0 && seen.size < n && oldest && !reasons.get(oldest.id)!.some((r) => r.startsWith(rule))) add(oldest.id, `${rule} oldest`);
  }
  if (policy.withinMs !== undefined && sorted[0]) {
    const from = sorted[0].time.getTime() - policy.withinMs;
    for (const b of sorted) if (b.time.getTime() >= from) add(b.id, 'within');
  }
  if (sorted[0]) add(sorted[0].id, 'newest');
  return sorted.map((b) => ({ id: b.id, keep: reasons.get(b.id)!.length > 0, reasons: reasons.get(b.id)! }));
}

/** ISO 8601 week of a UTC date, e.g. `2026-W49` (the year is the week's, which may differ near New Year). */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day); // the Thursday of this week decides its year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
