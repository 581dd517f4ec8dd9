import type { Command } from 'commander';
import type { CaptureOptions } from '../ops/capture.js';
import type { Logger } from '../util/log.js';
import { sessionOptions, wholeNumber, type ConnectionFlags } from './common-options.js';
import { addUploadOptions, uploadOptions, type UploadFlags } from './upload-options.js';

/** Options of `run` and `serve`: the upload flags plus those of a capture. */
export interface CaptureFlags extends ConnectionFlags, UploadFlags {
  to: string;
  dir: string;
  keepFailed?: boolean;
  shimLog?: number;
}

export function addCaptureOptions(cmd: Command): Command {
  return addUploadOptions(cmd)
    .option('--keep-failed', 'keep the objects of a failed run (default: delete them; without a manifest they are no backup)')
    .option('--shim-log <level>', 'shim log level on the program\'s stderr: 0 silent, 1 errors (default), 2 info, 3 debug', wholeNumber('--shim-log', 0, 3));
}

export function captureOptions(flags: CaptureFlags, log: Logger): CaptureOptions {
  return {
    ...sessionOptions(flags, log),
    ...uploadOptions(flags),
    to: flags.to,
    dir: flags.dir,
    ...(flags.keepFailed ? { keepFailed: true } : {}),
    ...(flags.shimLog !== undefined ? { shimLogLevel: flags.shimLog } : {}),
  };
}
