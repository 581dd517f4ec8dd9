import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { makeTestClient } from './s3-test-env.js';

/**
 * A directory on a 1 MiB tmpfs, for `diskless run --dir`: a single landed byte of a big file would
 * fail the write (needs root). Always dispose() it (finally).
 */
export function tinyTmpfs(): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-vdir-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  return {
    dir,
    dispose: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The bytes of an object, read with the test client (not with diskless). */
export async function objectBytes(bucket: string, key: string): Promise<Buffer> {
  const out = await makeTestClient().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Regular files (not directories) anywhere under dir, as paths relative to it. */
export function regularFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile());
}
