import { UsageError } from '../errors.js';
import type { LifecycleRule } from '../s3/bucket-config.js';

/** What a backup bucket should have, as `diskless setup-bucket` is asked for it. */
export interface BucketWishes {
  /** Rules apply to keys under this prefix ('' = the whole bucket). */
  prefix: string;
  /** Abort multipart uploads left incomplete this many days after they started (0: no such rule). */
  abortIncompleteDays: number;
  /** Move objects to these storage classes after so many days, e.g. STANDARD_IA after 30. */
  transitions: Array<{ storageClass: string; days: number }>;
  /** Delete objects this many days after they were written. */
  expireAfterDays?: number;
  /** With versioning: delete replaced or deleted versions this many days after they stopped being current. */
  noncurrentExpireDays?: number;
}

/** Prefix of the IDs of the rules diskless writes: rules with other IDs are the user's and are never changed. */
export const RULE_ID_PREFIX = 'diskless-';

/** The rules diskless wants for `wishes`, each with an ID naming what it does and for which prefix. */
export function wantedRules(wishes: BucketWishes): LifecycleRule[] {
  const id = (what: string) => `${RULE_ID_PREFIX}${what}${wishes.prefix ? `:${wishes.prefix}` : ''}`;
  const filter = { Prefix: wishes.prefix };
  const rules: LifecycleRule[] = [];
  if (wishes.abortIncompleteDays > 0) {
    rules.push({
      ID: id('abort-incomplete'),
      Status: 'Enabled',
      Filter: filter,
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: wishes.abortIncompleteDays },
    });
  }
  if (wishes.transitions.length > 0 || wishes.expireAfterDays !== undefined) {
    rules.push({
      ID: id('age'),
      Status: 'Enabled',
      Filter: filter,
      ...(wishes.transitions.length > 0
        ? { Transitions: wishes.transitions.map((t) => ({ Days: t.days, StorageClass: t.storageClass })) }
        : {}),
      ...(wishes.expireAfterDays !== undefined ? { Expiration: { Days: wishes.expireAfterDays } } : {}),
    });
  }
  if (wishes.noncurrentExpireDays !== undefined) {
    rules.push({
      ID: id('noncurrent'),
      Status: 'Enabled',
      Filter: filter,
      NoncurrentVersionExpiration: { NoncurrentDays: wishes.noncurrentExpireDays },
    });
  }
  return rules;
}

export interface MergedRules {
  rules: LifecycleRule[];
  kept: string[];
  added: string[];
  replaced: string[];
}

/**
 * Merges diskless's rules into the bucket's: a rule with the same ID is replaced, every other rule is kept as it is
 * (S3 replaces the whole configuration on each write, so leaving them out would delete them).
 */
export function mergeRules(existing: LifecycleRule[], wanted: LifecycleRule[]): MergedRules {
  const wantedIds = new Set(wanted.map((r) => r.ID));
  const existingIds = new Set(existing.map((r) => r.ID));
  const keptRules = existing.filter((r) => !wantedIds.has(r.ID));
  return {
    rules: [...keptRules, ...wanted],
    kept: keptRules.map((r) => r.ID ?? '(no ID)'),
    added: wanted.filter((r) => !existingIds.has(r.ID)).map((r) => r.ID!),
    replaced: wanted.filter((r) => existingIds.has(r.ID)).map((r) => r.ID!),
  };
}

/** `STANDARD_IA:30,GLACIER:90` -> transitions, in increasing days. */
export function parseTransitions(text: string): Array<{ storageClass: string; days: number }> {
  const out = text
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const m = /^\s*([A-Z][A-Z0-9_]*)\s*:\s*(\d+)\s*d?\s*$/.exec(part);
      if (!m) {
        throw new UsageError(`--transition: cannot read "${part}"; write STORAGE_CLASS:DAYS, e.g. STANDARD_IA:30,GLACIER:90`);
      }
      return { storageClass: m[1]!, days: Number(m[2]) };
    });
  for (let i = 1; i < out.length; i++) {
    if (out[i]!.days <= out[i - 1]!.days) {
      throw new UsageError(`--transition: the days must increase from one storage class to the next, got "${text}"`);
    }
  }
  return out;
}

/** A duration in milliseconds as the whole number of days lifecycle rules count in (at least 1). */
export function wholeDays(ms: number, what: string): number {
  const days = ms / 86_400_000;
  if (!Number.isInteger(days) || days < 1) {
    throw new UsageError(`${what}: lifecycle rules count in whole days; write e.g. 30d or 365d`);
  }
  return days;
}
