import { fstatSync } from 'node:fs';
import { Command } from 'commander';
import { setBlocking } from '../../native/process-control.js';
import { UsageError } from '../../errors.js';
import { addConnectionOptions, loggerFor, sessionOptions, size, type ConnectionFlags } from '../common-options.js';
import { addUploadOptions, uploadOptions, type UploadFlags } from '../upload-options.js';
import { withUploadProgress } from '../progress.js';
import { addEncryptOptions, encryptionRecipients, type EncryptFlags } from '../encryption-options.js';
import { putSummary, putSummaryFields } from '../summary.js';
import type { CommandContext } from '../program.js';

interface PutFlags extends ConnectionFlags, UploadFlags, EncryptFlags {
  expectedSize?: number;
  sha256?: boolean;
  contentType?: string;
  allowEmpty?: boolean;
  passAwsEnv?: boolean;
}

export function putCommand(ctx: CommandContext): Command {
  const cmd = new Command('put')
    .summary('stream stdin, or a command\'s stdout, into one S3 object')
    .description(
      'Streams stdin (or the stdout of the command after --) into s3://BUCKET/KEY with bounded memory. ' +
        'The object is committed only if the input ends cleanly and the command exits 0; otherwise the ' +
        'upload is aborted and nothing is left behind.\n' +
        'Prefer the -- form for pipelines (see the examples): in a plain pipeline, diskless cannot see the dump tool fail.',
    )
    .argument('<url>', 'target, s3://BUCKET/KEY ({host} {date} {time} {run} are expanded; an existing object is refused without --overwrite)')
    .argument('[command...]', 'command whose stdout to store (after --)')
    .option('--expected-size <size>', 'expected stream size: picks a part size that fits one object', size('--expected-size'))
    .option('--sha256', 'also compute a SHA-256 of the whole stream')
    .option('--content-type <type>', 'Content-Type of the object')
    .option('--allow-empty', 'store an empty input as an empty object (default: refuse it, exit 5)')
    .option('--pass-aws-env', 'keep the AWS credential variables in the command\'s environment (default: removed)');
  addUploadOptions(cmd);
  addEncryptOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, command: string[], flags: PutFlags) => {
    const { put } = await import('../../ops/put.js'); // loaded on use (program.ts)
    if (command.length > 0 && !ctx.argv.includes('--')) {
      throw new UsageError(`put takes one URL; to store a command's output, put -- before it: diskless put ${url} -- ${command.join(' ')}`);
    }
    if (command.length === 0 && process.stdin.isTTY) {
      throw new UsageError(`stdin is a terminal: pipe data in (… | diskless put ${url}) or give a command after --`);
    }
    const log = loggerFor(flags);
    const upload = uploadOptions(flags);
    const encryptTo = encryptionRecipients(flags);
    const result = await withUploadProgress(flags, log, (meter) => put({
      ...sessionOptions(flags, log),
      ...upload,
      url,
      input: command.length > 0 ? { command } : stdinSource(),
      ...(flags.expectedSize !== undefined ? { expectedSize: flags.expectedSize } : {}),
      ...(flags.sha256 ? { sha256: true } : {}),
      ...(flags.allowEmpty ? { allowEmpty: true } : {}),
      ...(flags.passAwsEnv ? { passAwsEnv: true } : {}),
      ...(encryptTo ? { encryptTo } : {}),
      settings: { ...upload.settings, ...(flags.contentType ? { contentType: flags.contentType } : {}) },
      signal: ctx.signal,
      meter,
    }), { files: false });
    ctx.report.summary(log, putSummary(result), putSummaryFields(result));
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
