import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { UploadOptions } from '../ops/upload-setup.js';
import type { WriteSettings } from '../upload/object-store.js';
import { DEFAULT_MEMORY_BUDGET } from '../upload/part-planner.js';
import { PART_CHECKSUMS, type PartChecksum } from '../upload/part-checksum.js';
import { parseRate } from '../util/rate-limiter.js';
import { MiB } from '../util/size.js';
import { size, wholeNumber } from './common-options.js';
import { addProgressOptions, type ProgressFlags } from './progress.js';

/** The flags of every uploading command (put, run, serve, snapshot), declared once. */
export interface UploadFlags extends ProgressFlags {
  partSize?: number;
  maxParts: number;
  memory: number;
  concurrency: number;
  equalParts?: boolean;
  split: boolean;
  storageClass?: string;
  sse?: WriteSettings['sse'];
  sseKmsKeyId?: string;
  stateDir?: string;
  bwlimit?: number;
  overwrite?: boolean;
  partChecksum: PartChecksum;
}

export function addUploadOptions(cmd: Command): Command {
  return addProgressOptions(cmd)
    .option('--part-size <size>', 'fixed part size, e.g. 16MiB (default: auto, 8 MiB growing with each stream)', size('--part-size'))
    .addOption(new Option('--max-parts <n>', 'most parts per object (1000 on Scaleway)').argParser(wholeNumber('--max-parts', 1, 10_000)).default(10_000, '10000'))
    .addOption(new Option('--memory <size>', 'one memory budget for all upload buffers and the read-ahead of files read (--from, read-backs)').argParser(size('--memory')).default(DEFAULT_MEMORY_BUDGET, `${DEFAULT_MEMORY_BUDGET / MiB}MiB`))
    .option('--concurrency <n>', 'parts uploaded at once, over all uploads', wholeNumber('--concurrency', 1, 64), 4)
    .option('--equal-parts', 'same size for every part but the last (Cloudflare R2 requires it)')
    .addOption(
      new Option('--part-checksum <kind>', "how each part proves its bytes to the store: crc32c (the store verifies it; no MD5 is computed), md5 (Content-MD5, every store), auto: crc32c where the store's answer says it takes it")
        .choices([...PART_CHECKSUMS])
        .default('auto'),
    )
    .option('--no-split', 'fail instead of continuing in a continuation object past the part limit')
    .option('--storage-class <class>', 'storage class, e.g. STANDARD_IA, GLACIER_IR')
    .addOption(new Option('--sse <algorithm>', 'server-side encryption').choices(['AES256', 'aws:kms', 'aws:kms:dsse']))
    .option('--sse-kms-key-id <id>', 'KMS key for --sse aws:kms')
    .option('--state-dir <dir>', 'where open uploads are recorded (default $XDG_STATE_HOME/diskless)')
    .option('--bwlimit <rate>', 'average upload rate of all objects together, e.g. 50MiB/s (default: unlimited)', (t) => parseRate(t, '--bwlimit'))
    .option('--overwrite', 'replace a backup already at the target (default: refuse); the old one stays valid until the new one commits');
}

/** The upload part of the library options, from the flags. */
export function uploadOptions(
  flags: UploadFlags,
): Omit<UploadOptions, keyof import('../ops/session.js').SessionOptions | 'signal'> & Pick<UploadOptions, 'bwlimit'> {
  if (flags.sseKmsKeyId && !flags.sse?.startsWith('aws:kms')) throw new UsageError('--sse-kms-key-id needs --sse aws:kms');
  return {
    memory: flags.memory,
    concurrency: flags.concurrency,
    maxParts: flags.maxParts,
    split: flags.split,
    ...(flags.partSize !== undefined ? { partSize: flags.partSize } : {}),
    ...(flags.equalParts ? { equalParts: true } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    ...(flags.bwlimit ? { bwlimit: flags.bwlimit } : {}),
    ...(flags.overwrite ? { overwrite: true } : {}),
    partChecksum: flags.partChecksum,
    settings: {
      ...(flags.storageClass ? { storageClass: flags.storageClass } : {}),
      ...(flags.sse ? { sse: flags.sse } : {}),
      ...(flags.sseKmsKeyId ? { sseKmsKeyId: flags.sseKmsKeyId } : {}),
    },
  };
}
