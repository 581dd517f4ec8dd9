import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { growPipe } from '../../native/process-control.js';
import { addConnectionOptions, loggerFor, sessionOptions, type ConnectionFlags } from '../common-options.js';
import { getSummary, getSummaryFields } from '../summary.js';
import { addIdentityOptions, identitiesFrom, type IdentityFlags } from '../encryption-options.js';
import type { CommandContext } from '../program.js';
import { addProgressOptions, withByteProgress, type ProgressFlags } from '../progress.js';

export function getCommand(ctx: CommandContext): Command {
  const cmd = new Command('get')
    .summary('write an object stored by put to stdout')
    .description('Writes s3://BUCKET/KEY to stdout, reassembling objects that put split into a chain, and checks sizes and checksums.')
    .argument('<url>', 'source, s3://BUCKET/KEY');
  addIdentityOptions(cmd, 'decrypt an encrypted object (without it, the ciphertext is written)');
  addProgressOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: ConnectionFlags & ProgressFlags & IdentityFlags) => {
    const { get } = await import('../../ops/get.js'); // loaded on use (program.ts)
    if (process.stdout.isTTY) throw new UsageError('stdout is a terminal: redirect it (diskless get URL > file, or | tool)');
    // A pipe of 1 MiB, not 64 KiB: the reader of stdout (gzip, sha256sum, psql) wakes 16 times less.
    growPipe(1, 1024 * 1024);
    const log = loggerFor(flags);
    const identities = await identitiesFrom(flags);
    const result = await withByteProgress('reading', flags, log, (onBytes) =>
      get({ ...sessionOptions(flags, log), url, output: process.stdout, signal: ctx.signal, onBytes, ...(identities ? { identities } : {}) }),
    );
    ctx.report.summary(log, getSummary(result), getSummaryFields(result));
  });
}
