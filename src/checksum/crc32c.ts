/**
 * CRC32C (Castagnoli), the checksum S3 accepts as `x-amz-checksum-crc32c`.
 * Computed natively (SSE4.2 where available); see native/addon/crc32c.cc.
 */
import { types } from 'node:util';

import type { Crc32cImplementationName } from '../native/addon-types.js';
import { loadAddon } from '../native/load-addon.js';

export type { Crc32cImplementationName } from '../native/addon-types.js';

const MAX_UINT32 = 0xffff_ffff;

function assertData(data: unknown): asserts data is Uint8Array {
  if (!types.isUint8Array(data)) {
    throw new TypeError(`crc32c: data must be a Uint8Array or Buffer, got ${describe(data)}`);
  }
}

function assertCrc(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`crc32c: ${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > MAX_UINT32) {
    throw new RangeError(`crc32c: ${name} must be an integer from 0 to 0xFFFFFFFF, got ${value}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * CRC32C of `data`, continuing from `previous` (a value returned by an earlier
 * call; 0, the default, starts a new checksum):
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`. Returns an unsigned 32-bit
 * integer. Throws TypeError/RangeError for bad arguments, or an Error if the
 * native addon is not built.
 */
export function crc32c(data: Uint8Array, previous = 0): number {
  assertData(data);
  assertCrc(previous, 'previous');
  return loadAddon().crc32c(data, previous);
}

/**
 * As {@link crc32c} but always the portable (table-driven) implementation.
 * For tests and benchmarks; production code should call {@link crc32c}.
 */
export function crc32cPortable(data: Uint8Array, previous = 0): number {
  assertData(data);
  assertCrc(previous, 'previous');
  return loadAddon().crc32cPortable(data, previous);
}

/**
 * The CRC32C of A followed by B, from `crc1` (A's), `crc2` (B's) and B's length in bytes:
 * `crc32cCombine(crc32c(a), crc32c(b), b.length) === crc32c(concat(a, b))`. Lets parts of a stream
 * be hashed in parallel and joined in order.
 */
export function crc32cCombine(crc1: number, crc2: number, len2: number): number {
  assertCrc(crc1, 'crc1');
  assertCrc(crc2, 'crc2');
  if (!Number.isSafeInteger(len2) || len2 < 0) throw new RangeError(`crc32c: len2 must be a non-negative integer, got ${len2}`);
  return loadAddon().crc32cCombine(crc1, crc2, len2);
}

/** The implementation {@link crc32c} uses on this CPU. */
export function crc32cImplementation(): Crc32cImplementationName {
  return loadAddon().crc32cImplementation();
}

/** A CRC32C value as 8 lowercase hex digits, zero padded. */
export function crc32cToHex(value: number): string {
  assertCrc(value, 'value');
  return value.toString(16).padStart(8, '0');
}

/** A CRC32C value as S3's `x-amz-checksum-crc32c` wants it: 4 bytes big-endian, base64. */
export function crc32cToBase64(value: number): string {
  assertCrc(value, 'value');
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(value, 0);
  return bytes.toString('base64');
}

/**
 * Incremental CRC32C. `digest()`, `hex()` and `base64()` do not finish the
 * checksum: further `update()` calls continue it.
 *
 * ```ts
 * const sum = new Crc32c();
 * for await (const chunk of stream) sum.update(chunk);
 * headers['x-amz-checksum-crc32c'] = sum.base64();
 * ```
 */
export class Crc32c {
  #crc: number;

  /** @param initial a CRC32C to continue from (default 0: empty input). */
  constructor(initial = 0) {
    assertCrc(initial, 'initial');
    this.#crc = initial;
  }

  update(chunk: Uint8Array): this {
    this.#crc = crc32c(chunk, this.#crc);
    return this;
  }

  /** The CRC32C of everything passed to update() so far, as an unsigned 32-bit integer. */
  digest(): number {
    return this.#crc;
  }

  /** {@link digest} as 8 lowercase hex digits. */
  hex(): string {
    return crc32cToHex(this.#crc);
  }

  /** {@link digest} as 4 big-endian bytes in base64 (S3's x-amz-checksum-crc32c). */
  base64(): string {
    return crc32cToBase64(this.#crc);
  }
}
