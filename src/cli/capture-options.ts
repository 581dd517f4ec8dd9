import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CaptureOptions } from '../ops/capture.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { Logger } from '../util/log.js';
import { sessionOptions, size, wholeNumber, type ConnectionFlags } from './common-options.js';

/** Options of `run` and `serve` (and, for the upload part, of `put`). */
export interface CaptureFlags extends ConnectionFlags {
  to: string;
  dir: string;
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
  keepFailed?: boolean;
  shimLog?: number;
}

export function addCaptureOptions(cmd: Command): Command {
  return cmd
    .option('--part-size <size>', 'fixed part size (default: auto, 8 MiB growing with each file)', size('--part-size'))
    .option('--max-parts <n>', 'most parts per object (1,000 on Scaleway)', wholeNumber('--max-parts', 1, 10_000), 10_000)
    .option('--memory <size>', 'memory budget shared by all files in flight', size('--memory'), 64 * 1024 * 1024)
    .option('--concurrency <n>', 'parts uploaded at once, over all files', wholeNumber('--concurrency', 1, 64), 4)
    .option('--equal-parts', 'same size for every part but the last (Cloudflare R2 requires it)')
    .option('--no-split', 'fail a file that outgrows one object instead of continuing it in another')
    .option('--storage-class <class>', 'storage class, e.g. STANDARD_IA, GLACIER_IR')
    .addOption(new Option('--sse <algorithm>', 'server-side encryption').choices(['AES256', 'aws:kms', 'aws:kms:dsse']))
    .option('--sse-kms-key-id <id>', 'KMS key for --sse aws:kms')
    .option('--keep-failed', 'keep the objects of a failed run (default: delete them; without a manifest they are no backup)')
    .option('--state-dir <dir>', 'where open uploads are recorded (default $XDG_STATE_HOME/diskless)')
    .option('--shim-log <level>', 'shim log level on the program\'s stderr: 0 silent, 1 errors (default), 2 info, 3 debug', wholeNumber('--shim-log', 0, 3));
}

export function captureOptions(flags: CaptureFlags, log: Logger): CaptureOptions {
  if (flags.sseKmsKeyId && !flags.sse?.startsWith('aws:kms')) throw new UsageError('--sse-kms-key-id needs --sse aws:kms');
  return {
    ...sessionOptions(flags, log),
    to: flags.to,
    dir: flags.dir,
    memory: flags.memory,
    concurrency: flags.concurrency,
    maxParts: flags.maxParts,
    split: flags.split,
    ...(flags.partSize !== undefined ? { partSize: flags.partSize } : {}),
    ...(flags.equalParts ? { equalParts: true } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    ...(flags.keepFailed ? { keepFailed: true } : {}),
    ...(flags.shimLog !== undefined ? { shimLogLevel: flags.shimLog } : {}),
    settings: {
      ...(flags.storageClass ? { storageClass: flags.storageClass } : {}),
      ...(flags.sse ? { sse: flags.sse } : {}),
      ...(flags.sseKmsKeyId ? { sseKmsKeyId: flags.sseKmsKeyId } : {}),
    },
  };
}
