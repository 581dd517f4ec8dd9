import { describe, expect, it } from 'vitest';
import * as frameCodec from '../../../src/wire/frame-codec.js';
import * as wire from '../../../src/wire/wire.generated.js';
// The properties live in the fuzz runner, so bench/fuzz.sh checks exactly these for longer.
// @ts-expect-error -- plain ESM without types
import { checkCase, fuzzFor, rng } from '../../../bench/frame-codec-fuzz.mjs';

const codec = { ...frameCodec, ...wire };

describe('the frame decoder, property-tested with random and hostile bytes', () => {
  it('round-trips every message, decodes frames fed in random slices, and refuses hostile bytes only with a WireError', () => {
    // Three fixed seeds: any failure names its seed and case, and replays the same way.
    for (const seed of [1, 20261201, 0xdead]) {
      const r = rng(seed);
      for (let i = 0; i < 1500; i++) checkCase(codec, r);
    }
  });

  it('reports a property that does not hold, with the seed to replay it (the check can fail)', () => {
    const broken = { ...codec, takeFrame: (b: Buffer) => codec.takeFrame(b) && { ...codec.takeFrame(b)!, rest: Buffer.from('x') } };
    expect(() => fuzzFor(broken, 1, 7)).toThrow(/round trip: 1 bytes left over \(seed 7, case 0\)/);
  });
});
