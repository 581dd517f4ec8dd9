import { fstatSync } from 'node:fs';
import { Command, Option } from 'commander';
import { setBlocking } from '../../native/process-control.js';
import { UsageError } from '../../errors.js';
import { put } from '../../ops/put.js';
import type { WriteSettings } from '../../upload/object-store.js';
import { addConnectionOptions, loggerFor, sessionOptions, size, wholeNumber, type ConnectionFlags } from '../common-options.js';
import { putSummary } from '../summary.js';
import type { CommandContext } from '../program.js';

interface PutFlags extends ConnectionFlags {
  partSize?: number;
  maxParts: number;
  memory: number;
  concurrency: number;
  expectedSize?: number;
  equalParts?: boolean;
  split: boolean;
  sha256?: boolean;
  storageClass?: string;
  sse?: WriteSettings['sse'];
  sseKmsKeyId?: string;
  contentType?: string;
  stateDir?: string;
}

export function putCommand(ctx: CommandContext): Command {
  const cmd = new Command('put')
    .summary('stream stdin, or a command\'s stdout, into one S3 object')
    .description(
      'Streams stdin (or the stdout of the command after --) into s3://BUCKET/KEY with bounded memory.\n' +
        'The object is committed only if the input ends cleanly and the command exits 0; otherwise the\n' +
        'upload is aborted and nothing is left behind. Prefer the -- form for pipelines:\n' +
        "  diskless put s3://b/db.sql.gz -- bash -c 'set -o pipefail; mysqldump db | gzip'",
    )
    .argument('<url>', 'target, s3://BUCKET/KEY')
    .argument('[command...]', 'command whose stdout to store (after --)')
    .option('--part-size <size>', 'fixed part size, e.g. 16MiB (default: auto, 8 MiB growing with the stream)', size('--part-size'))
    .option('--max-parts <n>', 'most parts per object (1,000 on Scaleway)', wholeNumber('--max-parts', 1, 10_000), 10_000)
    .option('--memory <size>', 'memory budget for upload buffers', size('--memory'), 64 * 1024 * 1024)
    .option('--concurrency <n>', 'parts uploaded at once', wholeNumber('--concurrency', 1, 64), 4)
    .option('--expected-size <size>', 'expected stream size: picks a part size that fits one object', size('--expected-size'))
    .option('--equal-parts', 'same size for every part but the last (Cloudflare R2 requires it)')
    .option('--no-split', 'fail instead of continuing in a continuation object past the part limit')
    .option('--sha256', 'also compute a SHA-256 of the whole stream')
    .option('--storage-class <class>', 'storage class, e.g. STANDARD_IA, GLACIER_IR')
    .addOption(new Option('--sse <algorithm>', 'server-side encryption').choices(['AES256', 'aws:kms', 'aws:kms:dsse']))
    .option('--sse-kms-key-id <id>', 'KMS key for --sse aws:kms')
    .option('--content-type <type>', 'Content-Type of the object')
    .option('--state-dir <dir>', 'where open uploads are recorded (default $XDG_STATE_HOME/diskless)');
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, command: string[], flags: PutFlags) => {
    if (command.length > 0 && !ctx.argv.includes('--')) {
      throw new UsageError(`put takes one URL; to store a command's output, put -- before it: diskless put ${url} -- ${command.join(' ')}`);
    }
    if (command.length === 0 && process.stdin.isTTY) {
      throw new UsageError(`stdin is a terminal: pipe data in (… | diskless put ${url}) or give a command after --`);
    }
    if (flags.sseKmsKeyId && !flags.sse?.startsWith('aws:kms')) {
      throw new UsageError('--sse-kms-key-id needs --sse aws:kms');
    }
    const log = loggerFor(flags);
    const settings: WriteSettings = {
      ...(flags.storageClass ? { storageClass: flags.storageClass } : {}),
      ...(flags.sse ? { sse: flags.sse } : {}),
      ...(flags.sseKmsKeyId ? { sseKmsKeyId: flags.sseKmsKeyId } : {}),
      ...(flags.contentType ? { contentType: flags.contentType } : {}),
    };
    const result = await put({
      ...sessionOptions(flags, log),
      url,
      input: command.length > 0 ? { command } : stdinSource(),
      memory: flags.memory,
      concurrency: flags.concurrency,
      maxParts: flags.maxParts,
      split: flags.split,
      ...(flags.partSize !== undefined ? { partSize: flags.partSize } : {}),
      ...(flags.expectedSize !== undefined ? { expectedSize: flags.expectedSize } : {}),
      ...(flags.equalParts ? { equalParts: true } : {}),
      ...(flags.sha256 ? { sha256: true } : {}),
      ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
      settings,
      signal: ctx.signal,
    });
    log.info(putSummary(result));
  });
}

/**
 * stdin as a file descriptor when it is a pipe or a file (read straight into the upload buffers),
 * else as Node's stream (sockets, character devices).
 */
function stdinSource(): { fd: number } | { stream: AsyncIterable<Uint8Array> } {
  const st = fstatSync(0);
  if (!st.isFIFO() && !st.isFile()) return { stream: process.stdin };
  // A pipe inherited non-blocking would make fs.read fail with EAGAIN instead of waiting.
  setBlocking(0);
  return { fd: 0 };
}
