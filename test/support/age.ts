import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AgeKey {
  /** The identity file, as `age-keygen -o FILE` writes it. */
  file: string;
  /** Its public key (`age-keygen -y FILE`). */
  recipient: string;
  /** The AGE-SECRET-KEY-1… line, to check it never shows up anywhere. */
  secret: string;
}

/** An age key made as a user makes one, with the `age-keygen` CLI (Debian package `age`). */
export function makeAgeKey(dir: string, name: string): AgeKey {
  const file = join(dir, `${name}.key`);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  const secret = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
  return { file, recipient, secret };
}
