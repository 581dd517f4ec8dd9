import { Command } from 'commander';
import { createRequire } from 'node:module';
import { doctorCommand } from './commands/doctor.js';
import { gcCommand } from './commands/gc.js';
import { getCommand } from './commands/get.js';
import { lsCommand } from './commands/ls.js';
import { putCommand } from './commands/put.js';
import { pruneCommand } from './commands/prune.js';
import { restoreCommand } from './commands/restore.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';
import { setupBucketCommand } from './commands/setup-bucket.js';
import { shimPathCommand } from './commands/shim-path.js';
import { snapshotCommand } from './commands/snapshot.js';
import { verifyCommand } from './commands/verify.js';

/** What commands get from the CLI shell: the raw arguments and the signal aborted by SIGINT/SIGTERM. */
export interface CommandContext {
  argv: readonly string[];
  signal: AbortSignal;
}

export function buildProgram(ctx: CommandContext): Command {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const program = new Command('diskless')
    .description('Stream backups into S3-compatible object storage without landing them on local disk.')
    .version(version)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  program.addCommand(putCommand(ctx));
  program.addCommand(getCommand(ctx));
  program.addCommand(gcCommand(ctx));
  program.addCommand(runCommand(ctx));
  program.addCommand(serveCommand(ctx));
  program.addCommand(snapshotCommand(ctx));
  program.addCommand(lsCommand(ctx));
  program.addCommand(verifyCommand(ctx));
  program.addCommand(restoreCommand(ctx));
  program.addCommand(pruneCommand(ctx));
  program.addCommand(setupBucketCommand());
  program.addCommand(doctorCommand());
  program.addCommand(shimPathCommand());
  for (const c of program.commands) c.exitOverride().configureOutput({ outputError: () => {} });
  return program;
}
