import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { get } from '../../ops/get.js';
import { addConnectionOptions, loggerFor, sessionOptions, type ConnectionFlags } from '../common-options.js';
import { getSummary, getSummaryFields } from '../summary.js';
import type { CommandContext } from '../program.js';
import { addProgressOptions, withByteProgress, type ProgressFlags } from '../progress.js';

export function getCommand(ctx: CommandContext): Command {
  const cmd = new Command('get')
    .summary('write an object stored by put to stdout')
    .description('Writes s3://BUCKET/KEY to stdout, reassembling objects that put split into a chain, and checks sizes and checksums.')
    .argument('<url>', 'source, s3://BUCKET/KEY');
  addProgressOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: ConnectionFlags & ProgressFlags) => {
    if (process.stdout.isTTY) throw new UsageError('stdout is a terminal: redirect it (diskless get URL > file, or | tool)');
    const log = loggerFor(flags);
    const result = await withByteProgress('reading', flags, log, (onBytes) => get({ ...sessionOptions(flags, log), url, output: process.stdout, signal: ctx.signal, onBytes }));
    ctx.report.summary(log, getSummary(result), getSummaryFields(result));
  });
}
