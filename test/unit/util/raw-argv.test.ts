import { describe, expect, it } from 'vitest';
import { checkArgumentBytes } from '../../../src/cli/raw-argv.js';
import { firstInvalidByte } from '../../../src/util/utf8.js';

describe('arguments that are not UTF-8', () => {
  it('finds the first byte that is not UTF-8', () => {
    expect(firstInvalidByte(Buffer.from('n\xff', 'latin1'))).toBe(1);
    expect(firstInvalidByte(Buffer.from('ü ok', 'utf8'))).toBe(-1);
    expect(firstInvalidByte(Buffer.from([0x61, 0xe2, 0x82]))).toBe(1); // a truncated 3-byte sequence
  });

  it('refuses an argument of diskless with such a byte, naming it, and ignores the command\'s arguments after --', () => {
    const raw = [Buffer.from('put'), Buffer.from([...Buffer.from('s3://b/n'), 0xfe]), Buffer.from('--'), Buffer.from([0xff])];
    const args = ['put', 's3://b/n\ufffd', '--', '\ufffd'];
    expect(() => checkArgumentBytes(args, raw)).toThrow(/argument 2 \("s3:\/\/b\/n\\xfe"\) has the byte 0xfe at offset 8, which is not valid UTF-8/);
    expect(() => checkArgumentBytes(['put', 's3://b/k', '--', '\ufffd'], [raw[0]!, Buffer.from('s3://b/k'), raw[2]!, raw[3]!])).not.toThrow();
  });
});
