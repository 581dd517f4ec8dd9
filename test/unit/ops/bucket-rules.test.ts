import { describe, expect, it } from 'vitest';
import { mergeRules, parseTransitions, wantedRules, wholeDays } from '../../../src/ops/bucket-rules.js';

describe('the lifecycle rules setup-bucket wants', () => {
  it('is one abort-incomplete rule by default, named for the prefix it covers', () => {
    expect(wantedRules({ prefix: 'db/', abortIncompleteDays: 3, transitions: [] })).toEqual([
      { ID: 'diskless-abort-incomplete:db/', Status: 'Enabled', Filter: { Prefix: 'db/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } },
    ]);
  });

  it('puts transitions and expiry in one age rule, and noncurrent expiry in its own', () => {
    const rules = wantedRules({
      prefix: '',
      abortIncompleteDays: 0,
      transitions: [{ storageClass: 'STANDARD_IA', days: 30 }],
      expireAfterDays: 365,
      noncurrentExpireDays: 7,
    });
    expect(rules.map((r) => r.ID)).toEqual(['diskless-age', 'diskless-noncurrent']);
    expect(rules[0]).toMatchObject({ Transitions: [{ Days: 30, StorageClass: 'STANDARD_IA' }], Expiration: { Days: 365 } });
    expect(rules[1]).toMatchObject({ NoncurrentVersionExpiration: { NoncurrentDays: 7 } });
  });
});

describe('merging with the bucket\'s rules', () => {
  const theirs = { ID: 'their-rule', Status: 'Enabled' as const, Prefix: 'logs/', Expiration: { Days: 9 } };
  const ours = wantedRules({ prefix: '', abortIncompleteDays: 3, transitions: [] });

  it('keeps every rule diskless did not write, unchanged', () => {
    const merged = mergeRules([theirs], ours);
    expect(merged.rules).toEqual([theirs, ...ours]);
    expect(merged).toMatchObject({ kept: ['their-rule'], added: ['diskless-abort-incomplete'], replaced: [] });
  });

  it('replaces its own rule instead of adding a second one when run again', () => {
    const again = mergeRules(mergeRules([theirs], ours).rules, wantedRules({ prefix: '', abortIncompleteDays: 5, transitions: [] }));
    expect(again.rules).toHaveLength(2);
    expect(again.replaced).toEqual(['diskless-abort-incomplete']);
    expect(again.rules[1]).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 5 } });
  });
});

describe('reading the flags', () => {
  it('reads STORAGE_CLASS:DAYS lists and refuses days that do not increase', () => {
    expect(parseTransitions('STANDARD_IA:30,GLACIER:90')).toEqual([
      { storageClass: 'STANDARD_IA', days: 30 },
      { storageClass: 'GLACIER', days: 90 },
    ]);
    expect(() => parseTransitions('GLACIER:90,STANDARD_IA:30')).toThrow(/must increase/);
    expect(() => parseTransitions('glacier')).toThrow(/write STORAGE_CLASS:DAYS/);
  });

  it('takes durations in whole days only', () => {
    expect(wholeDays(365 * 86_400_000, '--expire-after')).toBe(365);
    expect(() => wholeDays(3_600_000, '--expire-after')).toThrow(/whole days/);
  });
});
