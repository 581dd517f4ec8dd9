import { describe, expect, it } from 'vitest';
import { applyRetention, hasRules, isoWeek, type Dated } from '../../../src/prune/retention.js';

/** One backup a day at 02:30 UTC for `days` days ending 2026-12-01, ids `d<yyyy-mm-dd>`. */
function daily(days: number, end = '2026-12-01'): Dated[] {
  const last = Date.parse(`${end}T02:30:00Z`);
  return Array.from({ length: days }, (_, i) => {
    const time = new Date(last - i * 86_400_000);
    return { id: `d${time.toISOString().slice(0, 10)}`, time };
  });
}

const kept = (ds: ReturnType<typeof applyRetention>) => ds.filter((d) => d.keep).map((d) => d.id);

describe('retention rules (restic forget semantics, UTC periods)', () => {
  it('--keep-last 1 keeps only the newest backup', () => {
    expect(kept(applyRetention(daily(3), { last: 1 }))).toEqual(['d2026-12-01']);
  });

  it('keeps the newest backup even when no rule keeps anything', () => {
    const ds = applyRetention(daily(3), { last: 0 });
    expect(kept(ds)).toEqual(['d2026-12-01']);
    expect(ds[0]!.reasons).toEqual(['newest']);
  });

  it('--keep-daily keeps the newest backup of each of the last N days that have backups', () => {
    const backups = [...daily(5), { id: 'd2026-12-01-early', time: new Date('2026-12-01T00:10:00Z') }];
    // a gap: no backup on 2026-11-29
    const withGap = backups.filter((b) => b.id !== 'd2026-11-29');
    expect(kept(applyRetention(withGap, { daily: 3 }))).toEqual(['d2026-12-01', 'd2026-11-30', 'd2026-11-28']);
  });

  it('--keep-weekly uses ISO weeks (Monday to Sunday) and keeps the newest of each', () => {
    // 2026-11-30 is a Monday; 2026-11-29 a Sunday (week 48).
    const ds = applyRetention(daily(14), { weekly: 2 });
    expect(kept(ds)).toEqual(['d2026-12-01', 'd2026-11-29']);
    expect(ds[0]!.reasons).toContain('weekly 2026-W49');
  });

  it('--keep-monthly keeps the newest backup of each month', () => {
    expect(kept(applyRetention(daily(70), { monthly: 3 }))).toEqual(['d2026-12-01', 'd2026-11-30', 'd2026-10-31']);
  });

  it('keeps the oldest backup too when fewer periods than asked for have backups', () => {
    expect(kept(applyRetention(daily(40), { monthly: 6 }))).toEqual(['d2026-12-01', 'd2026-11-30', 'd2026-10-31', 'd2026-10-23']);
  });

  it('--keep-within keeps every backup within the duration of the newest one, not of now', () => {
    expect(kept(applyRetention(daily(10), { withinMs: 2.5 * 86_400_000 }))).toEqual(['d2026-12-01', 'd2026-11-30', 'd2026-11-29']);
  });

  it('keeps what any rule keeps, with every reason', () => {
    const ds = applyRetention(daily(40), { last: 2, weekly: 2, monthly: 2 });
    expect(kept(ds)).toEqual(['d2026-12-01', 'd2026-11-30', 'd2026-11-29']);
    expect(ds.find((d) => d.id === 'd2026-12-01')!.reasons).toEqual(['last', 'weekly 2026-W49', 'monthly 2026-12', 'newest']);
  });

  it('an empty policy has no rules; numbers above zero do', () => {
    expect(hasRules({})).toBe(false);
    expect(hasRules({ last: 0 })).toBe(false);
    expect(hasRules({ daily: 7 })).toBe(true);
  });

  it('names ISO weeks across the new year by the week-year', () => {
    expect(isoWeek(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe('2026-W01');
    expect(isoWeek(new Date('2024-12-30T00:00:00Z'))).toBe('2025-W01');
  });
});
