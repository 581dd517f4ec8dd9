import { Command } from 'commander';
import { captureOptions, addCaptureOptions, type CaptureFlags } from '../capture-options.js';
import { addConnectionOptions, loggerFor, seconds } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { withUploadProgress } from '../progress.js';
import { stderrLine } from '../status-line.js';
import { manifestSummaryFields } from '../summary.js';

export function serveCommand(ctx: CommandContext): Command {
  const cmd = new Command('serve')
    .summary('the uploader alone: print the environment, serve until SIGINT/SIGTERM')
    .description(
      'Starts the uploader and prints the environment to export; programs started with it (from another ' +
        'shell) stream the files they write under --dir to S3.\n' +
        'The first SIGINT or SIGTERM stops serve: no new ' +
        'files, the open ones may finish for --linger seconds, then the manifest is written if all were stored ' +
        '(exit 0); files still open then are failed (exit 5, no manifest). A second signal exits at once (130/143).',
    )
    .requiredOption('--to <url>', 'target prefix, s3://BUCKET/PREFIX/ ({host} {date} {time} {run} are expanded; one holding a backup is refused without --overwrite)')
    .requiredOption('--dir <dir>', 'the directory programs write to (empty or absent)')
    .option('--linger <seconds>', 'after the first SIGINT/SIGTERM, how long open files may still be written', seconds('--linger'), 60);
  addCaptureOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (flags: CaptureFlags & { linger: number }) => {
    const { serve } = await import('../../ops/serve.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const result = await withUploadProgress(flags, log, (meter) => serve({
      ...captureOptions(flags, log),
      meter,
      lingerMs: flags.linger * 1000,
      signal: ctx.signal,
      onReady: (lines) => {
        stderrLine.around(() => process.stdout.write(lines.join('\n') + '\n'));
        log.info(`serving ${flags.dir}; stop with SIGINT or SIGTERM (pid ${process.pid}) to write the manifest`);
      },
    }));
    ctx.report.summary(log, '', manifestSummaryFields(result.manifest, result.bucket, result.prefix, result.manifestKey));
  });
}
