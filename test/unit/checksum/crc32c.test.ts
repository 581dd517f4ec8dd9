import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import {
  Crc32c,
  crc32c,
  crc32cImplementation,
  crc32cPortable,
  crc32cToBase64,
  crc32cToHex,
} from '../../../src/checksum/crc32c.js';
import { addonPath, loadAddon, nativeBuildDir, packageRoot } from '../../../src/native/load-addon.js';

/** Bit-at-a-time CRC32C: slow, obviously correct, independent of the addon. */
function referenceCrc32c(data: Uint8Array, previous = 0): number {
  let c = ~previous >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Deterministic PRNG (mulberry32) so a failure can be reproduced from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function randomInt(random: () => number, maxInclusive: number): number {
  return Math.floor(random() * (maxInclusive + 1));
}

const SEED = 0xc0ffee;

const implementations = [
  { name: 'the dispatching (hardware when available) path', fn: crc32c },
  { name: 'the portable path', fn: crc32cPortable },
] as const;

const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
const knownVectors: ReadonlyArray<readonly [string, Uint8Array, number]> = [
  ['empty input', new Uint8Array(0), 0],
  ['32 bytes of 0x00 (RFC 3720 B.4)', new Uint8Array(32), 0x8a9136aa],
  ['32 bytes of 0xFF (RFC 3720 B.4)', new Uint8Array(32).fill(0xff), 0x62a8ab43],
  ['32 ascending bytes 0..31 (RFC 3720 B.4)', ascending, 0x46dd794e],
  ['32 descending bytes 31..0 (RFC 3720 B.4)', descending, 0x113fdb5c],
  ['"123456789"', new TextEncoder().encode('123456789'), 0xe3069283],
  [
    '"The quick brown fox jumps over the lazy dog"',
    new TextEncoder().encode('The quick brown fox jumps over the lazy dog'),
    0x22620404,
  ],
];

describe('crc32c known vectors', () => {
  for (const { name, fn } of implementations) {
    for (const [label, data, expected] of knownVectors) {
      it(`${name} gives ${expected.toString(16).padStart(8, '0')} for ${label}`, () => {
        expect(fn(data)).toBe(expected);
      });
    }
  }

  it('the JS reference implementation used by these tests agrees with the known vectors', () => {
    for (const [, data, expected] of knownVectors) expect(referenceCrc32c(data)).toBe(expected);
  });
});

describe('crc32c implementation selection', () => {
  it('loads the addon from build/Release under the package root', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    expect(packageRoot()).toBe(root);
    expect(nativeBuildDir()).toBe(path.join(root, 'build', 'Release'));
    expect(addonPath()).toBe(path.join(root, 'build', 'Release', 'diskless_addon.node'));
    expect(existsSync(addonPath())).toBe(true);
    expect(loadAddon()).toBe(loadAddon());
  });

  it('reports sse4.2 on an x86-64 Linux CPU that has it, and portable on other architectures', () => {
    const implementation = crc32cImplementation();
    expect(['sse4.2', 'portable']).toContain(implementation);
    if (process.arch === 'x64' && process.platform === 'linux') {
      const hasSse42 = /^flags\s*:.*\bsse4_2\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
      expect(implementation).toBe(hasSse42 ? 'sse4.2' : 'portable');
    } else if (process.arch !== 'x64') {
      expect(implementation).toBe('portable');
    }
  });
});

describe('crc32c agrees with a bitwise reference', () => {
  // One large backing buffer; inputs are subarrays at random (mostly
  // misaligned) offsets so the alignment prologue and every tail length run.
  const random = rng(SEED);
  const backing = randomBytes(random, 100_000 + 64);

  for (const { name, fn } of implementations) {
    it(`${name} matches the reference on random data of random lengths (0..100k) at random offsets`, () => {
      const cases = 40;
      for (let i = 0; i < cases; i++) {
        const length = randomInt(random, 100_000);
        const offset = randomInt(random, 63);
        const view = backing.subarray(offset, offset + length);
        expect(fn(view), `seed ${SEED}, case ${i}, offset ${offset}, length ${length}`).toBe(
          referenceCrc32c(view),
        );
      }
    });

    it(`${name} matches the reference at every offset 0..7 for lengths around its block boundaries`, () => {
      // 3*256 and 3*8192 are where the SSE4.2 code switches between its
      // interleaved-stream loops; small lengths cover the 8-byte word loop tails.
      const lengths = new Set<number>();
      for (let n = 0; n <= 72; n++) lengths.add(n);
      for (const boundary of [255, 256, 768, 1536, 8192, 24_576, 49_152]) {
        for (let d = -9; d <= 9; d++) lengths.add(boundary + d);
      }
      for (const length of lengths) {
        for (let offset = 0; offset < 8; offset++) {
          const view = backing.subarray(offset, offset + length);
          expect(fn(view), `offset ${offset}, length ${length}`).toBe(referenceCrc32c(view));
        }
      }
    });

    it(`${name} continues from a previous value like the reference does`, () => {
      for (let i = 0; i < 20; i++) {
        const previous = Math.floor(random() * 0x1_0000_0000);
        const view = backing.subarray(randomInt(random, 63), 64 + randomInt(random, 5_000));
        expect(fn(view, previous)).toBe(referenceCrc32c(view, previous));
      }
    });
  }

  it('the hardware and portable paths agree on a multi-megabyte buffer', () => {
    const big = randomBytes(rng(SEED + 1), 3 * 1024 * 1024 + 13);
    const view = big.subarray(5);
    expect(crc32c(view)).toBe(crc32cPortable(view));
  });

  it('hashes the bytes of a Buffer view, honouring its byteOffset and byteLength', () => {
    const buf = Buffer.from('xx123456789yy');
    expect(crc32c(buf.subarray(2, 11))).toBe(0xe3069283);
  });
});

describe('crc32c chaining and the Crc32c class', () => {
  const random = rng(SEED + 2);
  const data = randomBytes(random, 200_000);
  const expected = referenceCrc32c(data);

  it('chaining crc32c(b, crc32c(a)) equals crc32c(a + b)', () => {
    const a = data.subarray(0, 12_345);
    const b = data.subarray(12_345);
    expect(crc32c(b, crc32c(a))).toBe(expected);
    expect(crc32cPortable(b, crc32cPortable(a))).toBe(expected);
  });

  it('an empty chunk leaves the running value unchanged', () => {
    expect(crc32c(new Uint8Array(0), 0xdeadbeef)).toBe(0xdeadbeef);
    expect(crc32cPortable(new Uint8Array(0), 0xdeadbeef)).toBe(0xdeadbeef);
  });

  it('incremental updates in random splits equal the one-shot value', () => {
    for (let round = 0; round < 20; round++) {
      const sum = new Crc32c();
      let pos = 0;
      while (pos < data.length) {
        // Mix tiny (including empty) and large chunks.
        const max = random() < 0.5 ? 16 : 40_000;
        const end = Math.min(data.length, pos + randomInt(random, max));
        sum.update(data.subarray(pos, end));
        pos = end;
      }
      expect(sum.digest(), `round ${round}`).toBe(expected);
    }
  });

  it('update returns the instance so calls can be chained', () => {
    const sum = new Crc32c();
    expect(sum.update(new TextEncoder().encode('12345')).update(new TextEncoder().encode('6789'))).toBe(sum);
    expect(sum.digest()).toBe(0xe3069283);
  });

  it('a new Crc32c digests to 0 and can continue from an initial value', () => {
    expect(new Crc32c().digest()).toBe(0);
    const head = new Crc32c().update(data.subarray(0, 1000)).digest();
    expect(new Crc32c(head).update(data.subarray(1000)).digest()).toBe(expected);
  });

  it('digest does not finish the checksum: later updates continue it', () => {
    const sum = new Crc32c().update(data.subarray(0, 500));
    sum.digest();
    sum.hex();
    sum.base64();
    expect(sum.update(data.subarray(500)).digest()).toBe(expected);
  });
});

describe('crc32c encodings', () => {
  const digits = new TextEncoder().encode('123456789');

  it('hex() gives 8 lowercase hex digits', () => {
    expect(new Crc32c().update(digits).hex()).toBe('e3069283');
  });

  it('hex() zero-pads small values', () => {
    expect(new Crc32c().hex()).toBe('00000000');
    // CRC32C("C") = 0x0056BD19.
    expect(new Crc32c().update(new TextEncoder().encode('C')).hex()).toBe('0056bd19');
    expect(crc32cToHex(0x1)).toBe('00000001');
  });

  it('base64() gives the 4 big-endian bytes in base64, as x-amz-checksum-crc32c wants', () => {
    expect(new Crc32c().update(digits).base64()).toBe('4waSgw==');
    expect(new Crc32c().update(new TextEncoder().encode('C')).base64()).toBe('AFa9GQ==');
    expect(new Crc32c().base64()).toBe('AAAAAA==');
    expect(crc32cToBase64(0xffffffff)).toBe('/////w==');
  });

  it('base64() round-trips through a big-endian read', () => {
    const value = new Crc32c().update(digits).digest();
    expect(Buffer.from(new Crc32c().update(digits).base64(), 'base64').readUInt32BE(0)).toBe(value);
  });
});

describe('crc32c argument validation', () => {
  const data = new Uint8Array([1, 2, 3]);

  it.each([-1, 0x1_0000_0000, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects previous = %s with a RangeError',
    (previous) => {
      expect(() => crc32c(data, previous)).toThrow(RangeError);
      expect(() => crc32cPortable(data, previous)).toThrow(RangeError);
    },
  );

  it.each(['1', null, 1n])('rejects a non-number previous (%s) with a TypeError', (previous) => {
    expect(() => crc32c(data, previous as unknown as number)).toThrow(TypeError);
  });

  it('accepts the extremes 0 and 0xFFFFFFFF for previous', () => {
    expect(crc32c(data, 0)).toBe(referenceCrc32c(data, 0));
    expect(crc32c(data, 0xffffffff)).toBe(referenceCrc32c(data, 0xffffffff));
  });

  it.each([
    ['a string', 'abc'],
    ['an array', [1, 2, 3]],
    ['an ArrayBuffer', new ArrayBuffer(3)],
    ['a DataView', new DataView(new ArrayBuffer(3))],
    ['a Uint16Array', new Uint16Array(3)],
    ['undefined', undefined],
  ])('rejects %s as data with a TypeError', (_label, value) => {
    expect(() => crc32c(value as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('the Crc32c class rejects bad chunks and a bad initial value', () => {
    expect(() => new Crc32c().update('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => new Crc32c(-1)).toThrow(RangeError);
  });

  it('the encoders reject values that are not unsigned 32-bit integers', () => {
    expect(() => crc32cToHex(-1)).toThrow(RangeError);
    expect(() => crc32cToBase64(2 ** 32)).toThrow(RangeError);
  });

  it('the native binding itself only rejects non-typed-array data, with a TypeError', () => {
    const addon = loadAddon();
    expect(() => addon.crc32c('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => addon.crc32cPortable({} as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => addon.crc32c(data, '1' as unknown as number)).toThrow(TypeError);
    // Any typed array is hashed as its bytes.
    expect(addon.crc32c(new Uint32Array([0x34333231]))).toBe(referenceCrc32c(new TextEncoder().encode('1234')));
  });
});
