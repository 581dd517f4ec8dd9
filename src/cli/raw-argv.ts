import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { describeInvalidUtf8, escapeBytes } from '../util/utf8.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The user's arguments as the kernel passed them (/proc/self/cmdline), before Node decoded them:
 * Node replaces bytes that are not UTF-8 by U+FFFD, so `n\xff` and `n\xfe` would become the same
 * key. undefined where /proc is not readable.
 */
export function rawArguments(count: number): Buffer[] | undefined {
  let cmdline: Buffer;
  try {
    cmdline = readFileSync('/proc/self/cmdline');
  } catch {
    return undefined;
  }
  const all: Buffer[] = [];
  for (let start = 0; start < cmdline.length; ) {
    const end = cmdline.indexOf(0, start);
    const stop = end < 0 ? cmdline.length : end;
    all.push(cmdline.subarray(start, stop));
    start = stop + 1;
  }
  return all.length >= count ? all.slice(all.length - count) : undefined;
}

/**
 * diskless's own arguments (those before `--`; the command's are its business) must be UTF-8:
 * they become S3 keys, option values and messages. Names the first byte that is not.
 */
export function checkArgumentBytes(args: readonly string[], raw = rawArguments(args.length)): void {
  if (!raw) return;
  for (let i = 0; i < raw.length; i++) {
    if (args[i] === '--') return;
    const bytes = raw[i]!;
    try {
      utf8.decode(bytes);
    } catch {
      throw new UsageError(`argument ${i + 1} ("${escapeBytes(bytes)}") ${describeInvalidUtf8(bytes)}; S3 keys and diskless's options must be UTF-8`);
    }
  }
}
