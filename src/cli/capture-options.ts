import { Option, type Command } from 'commander';
import type { CloseWhen } from '../ingest/file-session.js';
import type { CaptureOptions } from '../ops/capture.js';
import type { Logger } from '../util/log.js';
import { sessionOptions, wholeNumber, type ConnectionFlags } from './common-options.js';
import { parseSize } from '../util/size.js';
import { addUploadOptions, uploadOptions, type UploadFlags } from './upload-options.js';
import { addEncryptOptions, encryptionRecipients, type EncryptFlags } from './encryption-options.js';

/** Options of `run` and `serve`: the upload flags plus those of a capture. */
export interface CaptureFlags extends ConnectionFlags, UploadFlags, EncryptFlags {
  to: string;
  dir: string;
  keepFailed?: boolean;
  shimLog?: number;
  randomAccessLimit?: number;
  socketBuffer?: number;
  close?: CloseWhen;
}

export function addCaptureOptions(cmd: Command): Command {
  return addEncryptOptions(addUploadOptions(cmd))
    .option('--keep-failed', 'keep the objects of a failed run (default: delete them; without a manifest they are no backup)')
    .option('--shim-log <level>', 'shim log level on the program\'s stderr: 0 silent, 1 errors (default), 2 info, 3 debug', wholeNumber('--shim-log', 0, 3))
    .option(
      '--random-access-limit <size>',
      'largest file the program may open for reading and writing (O_RDWR: mkstemp, sqlite3, zip); such a file is held in memory until it is closed',
      (v: string) => parseSize(v, '--random-access-limit'),
    )
    .option(
      '--socket-buffer <size>',
      "send buffer of each written file's connection: how far the program writes ahead of diskless's reads, in kernel " +
        'memory per file being written, up to about twice the size (default 1MiB; capped by the sysctl net.core.wmem_max; 0: the kernel\'s default)',
      (v: string) => parseSize(v, '--socket-buffer'),
    )
    .addOption(
      new Option(
        '--close <when>',
        "when the program's close() of a file returns: once its object is stored, or once its bytes are in diskless's memory " +
          '(received: faster for many small files; a failure then fails the run, not the close; not for programs that delete ' +
          'the source after close, like mv: docs/SEMANTICS.md)',
      )
        .choices(['stored', 'received'])
        .default('stored'),
    );
}

export function captureOptions(flags: CaptureFlags, log: Logger): CaptureOptions {
  const encryptTo = encryptionRecipients(flags);
  return {
    ...(encryptTo ? { encryptTo } : {}),
    ...sessionOptions(flags, log),
    ...uploadOptions(flags),
    to: flags.to,
    dir: flags.dir,
    ...(flags.keepFailed ? { keepFailed: true } : {}),
    ...(flags.shimLog !== undefined ? { shimLogLevel: flags.shimLog } : {}),
    ...(flags.randomAccessLimit !== undefined ? { randomAccessLimit: flags.randomAccessLimit } : {}),
    ...(flags.socketBuffer !== undefined ? { socketBuffer: flags.socketBuffer } : {}),
    ...(flags.close === 'received' ? { closeWhen: 'received' as const } : {}),
  };
}
