import { Command } from 'commander';
import { serve } from '../../ops/serve.js';
import { captureOptions, addCaptureOptions, type CaptureFlags } from '../capture-options.js';
import { addConnectionOptions, loggerFor } from '../common-options.js';
import type { CommandContext } from '../program.js';

export function serveCommand(ctx: CommandContext): Command {
  const cmd = new Command('serve')
    .summary('the uploader alone: print the environment, serve until SIGINT/SIGTERM')
    .description(
      'Starts the uploader and prints the environment to export; programs started with it (from another\n' +
        'shell) stream the files they write under --dir to S3. SIGINT or SIGTERM ends serve: it waits for the\n' +
        'files, then writes the manifest. Example:\n' +
        '  diskless serve --to s3://backups/x/ --dir /tmp/out > /tmp/diskless.env &\n' +
        '  . /tmp/diskless.env; tar -cf /tmp/out/etc.tar /etc; kill %1',
    )
    .requiredOption('--to <url>', 'target prefix, s3://BUCKET/PREFIX/')
    .requiredOption('--dir <dir>', 'the directory programs write to (empty or absent)');
  addCaptureOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (flags: CaptureFlags) => {
    const log = loggerFor(flags);
    await serve({
      ...captureOptions(flags, log),
      signal: ctx.signal,
      onReady: (lines) => {
        process.stdout.write(lines.join('\n') + '\n');
        log.info(`serving ${flags.dir}; stop with SIGINT or SIGTERM (pid ${process.pid}) to write the manifest`);
      },
    });
  });
}
