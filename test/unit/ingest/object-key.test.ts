import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { objectKey } from '../../../src/ingest/object-key.js';

const { EILSEQ, EINVAL, ENAMETOOLONG } = constants.errno;

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { errno?: number }).errno;
  }
  return undefined;
}

describe('the object key of a file name under --dir', () => {
  it('is the prefix plus the relative path', () => {
    expect(objectKey('run/', Buffer.from('db/ü.sql'))).toBe('run/db/ü.sql');
  });

  it('refuses a name that is not UTF-8 with EILSEQ, naming the byte, so n\\xff and n\\xfe cannot collide', () => {
    expect(errnoOf(() => objectKey('run/', Buffer.from([0x6e, 0xff])))).toBe(EILSEQ);
    expect(errnoOf(() => objectKey('run/', Buffer.from([0x6e, 0xfe])))).toBe(EILSEQ);
    expect(() => objectKey('run/', Buffer.from([0x6e, 0xff]))).toThrow('the file name "n\\xff" has the byte 0xff at offset 1, which is not valid UTF-8');
  });

  it('refuses control characters with EINVAL and keys over 1024 bytes with ENAMETOOLONG', () => {
    expect(errnoOf(() => objectKey('run/', 'a\nb'))).toBe(EINVAL);
    expect(errnoOf(() => objectKey('run/', 'k'.repeat(1021)))).toBe(ENAMETOOLONG);
  });
});
