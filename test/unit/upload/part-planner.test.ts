import { describe, expect, it } from 'vitest';
import { PartSequence, planParts, type PartPlanOptions } from '../../../src/upload/part-planner.js';
import { GiB, MiB, TiB } from '../../../src/util/size.js';

/** Walks a stream of `total` bytes through the plan as the uploader does; returns per-object part sizes. */
function simulate(options: PartPlanOptions, total: number): number[][] {
  const plan = planParts(options);
  const seq = new PartSequence(plan);
  const objects: number[][] = [];
  let left = total;
  do {
    const slot = seq.next();
    const size = Math.min(slot.size, left);
    (objects[slot.objectIndex] ??= []).push(size);
    left -= size;
  } while (left > 0);
  return objects;
}

/**
 * The same walk, keeping only what the invariants need (60 TiB in 5 MiB parts is 12 million
 * parts), and listing every violation it sees.
 */
function violations(options: PartPlanOptions, total: number): string[] {
  const plan = planParts(options);
  const seq = new PartSequence(plan);
  const memory = options.memoryBudget ?? 64 * MiB;
  const found: string[] = [];
  let left = total;
  let sum = 0;
  let object = -1;
  let partsInObject = 0;
  let firstSize = -1;
  do {
    const slot = seq.next();
    if (slot.objectIndex !== object) {
      object = slot.objectIndex;
      partsInObject = 0;
      firstSize = slot.size;
    }
    const size = Math.min(slot.size, left);
    left -= size;
    sum += size;
    partsInObject++;
    const final = left === 0;
    if (partsInObject > plan.maxParts) found.push(`object ${object} has ${partsInObject} parts`);
    if (!final && size < 5 * MiB) found.push(`non-final part of ${size} B`);
    if (size > 5 * GiB) found.push(`part of ${size} B`);
    // One part fills while one uploads: both must fit the budget.
    if (2 * slot.size > memory) found.push(`part of ${slot.size} B with ${memory} B of memory`);
    if (plan.equalParts && !final && slot.size !== firstSize) found.push(`unequal part in object ${object}`);
  } while (left > 0 && found.length < 5);
  if (found.length === 0 && sum !== total) found.push(`parts add up to ${sum}, not ${total}`);
  return found;
}

describe('part planner', () => {
  const sizes = [0, 1, 5 * MiB + 1, 8 * MiB, 1 * GiB, 78 * GiB + 1, 1 * TiB, 10 * TiB, 60 * TiB];
  const configs: Array<[string, PartPlanOptions]> = [
    ['defaults (AWS, 48 MiB)', {}],
    ['Scaleway (1,000 parts)', { maxParts: 1000 }],
    ['R2 equal parts', { equalParts: true }],
    ['fixed 5 MiB parts, 100 per object', { partSize: 5 * MiB, maxParts: 100 }],
    ['1 GiB of memory', { memoryBudget: 1 * GiB }],
    ['the smallest budget', { memoryBudget: 10 * MiB }],
  ];
  for (const [name, options] of configs) {
    it(`keeps every object within its part limit and every part within S3's and the memory's bounds up to 60 TiB: ${name}`, () => {
      for (const total of sizes) expect(violations(options, total), `${total} bytes`).toEqual([]);
    });
  }

  it('starts at 8 MiB and grows so that one object holds far more than 10,000 × 8 MiB', () => {
    const plan = planParts({});
    expect(plan.partSize(0, 1)).toBe(8 * MiB);
    expect(plan.partSize(0, 10_000)).toBe(24 * MiB);
    // 1,000 × 8 MiB + 1,000 × 16 MiB + 8,000 × 24 MiB (half the 48 MiB default budget): 210.9 GiB.
    expect(plan.objectCapacity(0)).toBe(216_000 * MiB);
    expect(simulate({}, 200 * GiB)).toHaveLength(1);
  });

  it('lets a larger memory budget hold terabytes in one object', () => {
    expect(planParts({ memoryBudget: 1 * GiB }).objectCapacity(0)).toBeGreaterThan(2 * TiB);
  });

  it('splits a stream into continuation objects past the part limit', () => {
    const objects = simulate({ partSize: 5 * MiB, maxParts: 100 }, 1.2 * GiB);
    expect(objects.length).toBeGreaterThanOrEqual(3);
    expect(objects[0]).toHaveLength(100);
  });

  it('fails at the part limit with an EFBIG error when splitting is off', () => {
    expect(() => simulate({ partSize: 5 * MiB, maxParts: 10, split: false }, 51 * MiB)).toThrow(/--no-split/);
    try {
      simulate({ partSize: 5 * MiB, maxParts: 10, split: false }, 51 * MiB);
    } catch (err) {
      expect((err as { errno: number }).errno).toBe(27);
    }
  });

  it('picks one part size that fits the expected size in one object', () => {
    const plan = planParts({ expectedSize: 200 * GiB, memoryBudget: 128 * MiB });
    expect(plan.partSize(0, 1)).toBe(21 * MiB);
    expect(plan.objectCapacity(0)).toBeGreaterThanOrEqual(200 * GiB);
  });

  it('refuses up front an expected size that cannot fit one object with --no-split', () => {
    expect(() => planParts({ expectedSize: 1 * TiB, split: false })).toThrow(/needs parts of .* --memory/);
  });

  it('warns when an expected size will need continuation objects', () => {
    expect(planParts({ expectedSize: 1 * TiB }).warnings[0]).toMatch(/continuation objects/);
  });

  it('rejects part sizes S3 or the memory budget cannot take, naming the fix', () => {
    expect(() => planParts({ partSize: 4 * MiB })).toThrow(/at least 5 MiB/);
    expect(() => planParts({ partSize: 6 * GiB, memoryBudget: 16 * GiB })).toThrow(/at most 5 GiB/);
    expect(() => planParts({ partSize: 48 * MiB })).toThrow(/--memory must be at least 96.0 MiB/);
    expect(() => planParts({ memoryBudget: 8 * MiB })).toThrow(/--memory 10MiB or more/);
    expect(() => planParts({ maxParts: 0 })).toThrow(/--max-parts/);
  });
});
