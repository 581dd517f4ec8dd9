import { describe, expect, it } from 'vitest';
import { normaliseEndpoint, parseObjectUrl, parseS3Url } from '../../../src/s3/s3-url.js';
import { expandUrlTemplate } from '../../../src/ops/key-template.js';
import { parseDuration } from '../../../src/util/duration.js';
import { formatBytes, parseSize } from '../../../src/util/size.js';

describe('parseSize', () => {
  it('reads binary and decimal units as users write them', () => {
    expect(parseSize('8MiB', 'x')).toBe(8 * 1024 ** 2);
    expect(parseSize('8M', 'x')).toBe(8 * 1024 ** 2);
    expect(parseSize('100MB', 'x')).toBe(100_000_000);
    expect(parseSize('1.5GiB', 'x')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('4096', 'x')).toBe(4096);
    expect(parseSize(' 2 tib ', 'x')).toBe(2 * 1024 ** 4);
  });

  it('names the option and shows examples when it cannot read a size', () => {
    expect(() => parseSize('lots', '--memory')).toThrow('--memory: cannot read "lots" as a size; write e.g. 8MiB');
    expect(() => parseSize('5XB', '--memory')).toThrow(/cannot read "5XB"/);
    expect(() => parseSize('-5M', '--memory')).toThrow(/cannot read/);
  });

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(8 * 1024 ** 2)).toBe('8.00 MiB');
    expect(formatBytes(1.2 * 1024 ** 3)).toBe('1.20 GiB');
    expect(formatBytes(273 * 1024 ** 3)).toBe('273 GiB');
  });
});

describe('parseS3Url', () => {
  it('splits bucket and key, keeping the key as given', () => {
    expect(parseS3Url('s3://my-bucket/a/b c/ü.sql')).toEqual({ bucket: 'my-bucket', key: 'a/b c/ü.sql' });
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', key: '' });
  });

  it('rejects what is not an S3 URL or has no valid bucket, naming the expected form', () => {
    expect(() => parseS3Url('https://x/y', 'target')).toThrow('target "https://x/y" is not an S3 URL; write it as s3://BUCKET/KEY');
    expect(() => parseS3Url('s3:///key')).toThrow(/invalid bucket name ""/);
    expect(() => parseS3Url('s3://abc/' + 'k'.repeat(1025))).toThrow(/1024 bytes/);
  });

  it('applies S3\'s bucket rule locally: 3-63 lowercase letters, digits, dots and dashes', () => {
    expect(parseS3Url('s3://a.b-9/k').bucket).toBe('a.b-9');
    expect(parseS3Url(`s3://${'a'.repeat(63)}/k`).bucket).toHaveLength(63);
    expect(() => parseS3Url('s3://ab/k')).toThrow(/invalid bucket name "ab" \(2 characters, fewer than 3\)/);
    expect(() => parseS3Url(`s3://${'a'.repeat(64)}/k`)).toThrow(/64 characters, more than 63/);
    expect(() => parseS3Url('s3://Backups/k')).toThrow(/uppercase letters/);
    expect(() => parseS3Url('s3://my_bucket/k')).toThrow(/the character "_"/);
    expect(() => parseS3Url('s3://-abc/k')).toThrow(/begin and end with a letter or digit/);
    expect(() => parseS3Url('s3://a..b/k')).toThrow(/two dots in a row/);
    expect(() => parseS3Url('s3://10.0.0.1/k')).toThrow(/IP address/);
  });

  it('rejects control characters and non-UTF-8 bytes in keys, naming the character', () => {
    expect(() => parseS3Url('s3://bkt/a\nb')).toThrow(/control character 0x0a \(newline\) at character 2/);
    expect(() => parseS3Url('s3://bkt/a\u0001')).toThrow(/control character 0x01 at character 2/);
    expect(() => parseS3Url('s3://bkt/n\ufffd')).toThrow(/not valid UTF-8 at character 2/);
    // The message itself stays on one line.
    expect(() => parseS3Url('s3://bkt/a\nb')).toThrow(/"a\\x0ab"/);
  });

  it('requires an object key where an object is meant', () => {
    expect(() => parseObjectUrl('s3://bkt/dir/', 'target')).toThrow('target "s3://bkt/dir/" names no object; write s3://bkt/path/to/object');
  });
});

describe('parseDuration', () => {
  it('reads seconds, minutes, hours and days', () => {
    expect(parseDuration('90s', 'x')).toBe(90_000);
    expect(parseDuration('30m', 'x')).toBe(1_800_000);
    expect(parseDuration('24h', 'x')).toBe(86_400_000);
    expect(parseDuration('7d', 'x')).toBe(604_800_000);
    expect(parseDuration('0', 'x')).toBe(0);
  });

  it('rejects a number without a unit, naming the option', () => {
    expect(() => parseDuration('24', '--older-than')).toThrow('--older-than: cannot read "24" as a duration');
  });
});

describe('normaliseEndpoint', () => {
  it('spells one endpoint one way: scheme and host in lower case, no default port, no trailing slash', () => {
    expect(normaliseEndpoint('HTTP://127.0.0.1:19001/')).toBe('http://127.0.0.1:19001');
    expect(normaliseEndpoint('http://Store.Example:80')).toBe('http://store.example');
    expect(normaliseEndpoint('https://s3.example:443/')).toBe('https://s3.example');
    expect(normaliseEndpoint('aws')).toBe('aws');
  });
});

describe('expandUrlTemplate', () => {
  it('expands {host} {date} {time} {run} and refuses any other placeholder', () => {
    const now = new Date('2026-12-01T20:15:07.123Z');
    expect(expandUrlTemplate('s3://b/{host}/{date}/{time}.sql', now, 'db1')).toBe('s3://b/db1/2026-12-01/201507.sql');
    expect(expandUrlTemplate('s3://b/{run}/', now, 'db1')).toMatch(/^s3:\/\/b\/20261201T201507Z-[0-9a-f]{6}\/$/);
    expect(() => expandUrlTemplate('s3://b/{timestamp}/', now, 'db1')).toThrow(/"\{timestamp\}" .* is not a placeholder; use \{host\} \{date\} \{time\} \{run\}/);
  });
});
