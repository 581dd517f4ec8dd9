import { Command, Option } from 'commander';
import { LOG_FORMATS, type LogFormat } from './cli-log.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { addExamples } from './help-examples.js';
import type { RunReport } from './run-report.js';
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
  /** The invocation's final summary and metrics file (main.ts finishes it). */
  report: RunReport;
}

/**
 * Every command is defined here (its options, help and examples), but its implementation
 * (src/ops/) is imported by its action when it runs, so that `put` does not hold the modules of
 * `run`, `snapshot`, `restore`… in memory: 4–7 MiB of RSS (docs/BENCHMARKS.md, "Memory, goal 4").
 */
export function buildProgram(ctx: CommandContext): Command {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const program = new Command('diskless')
    .description('Stream backups into S3-compatible object storage without landing them on local disk.')
    .version(version)
    .addOption(new Option(GLOBAL_OPTIONS.logFormat.flags, GLOBAL_OPTIONS.logFormat.description).choices([...LOG_FORMATS]).default('text'))
    .option(GLOBAL_OPTIONS.metricsFile.flags, GLOBAL_OPTIONS.metricsFile.description)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .hook('preAction', (root, action) => {
      // The global options reach every command's flags (loggerFor reads logFormat) and the report.
      const { logFormat, metricsFile } = root.opts<{ logFormat: LogFormat; metricsFile?: string }>();
      action.setOptionValue('logFormat', logFormat);
      ctx.report.configure(action.name(), { format: logFormat, ...(metricsFile ? { metricsFile } : {}), ...(action.opts()['quiet'] ? { quiet: true } : {}) });
    });
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
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ outputError: () => {} }).configureHelp({ showGlobalOptions: true });
    addExamples(c);
  }
  addExamples(program);
  return program;
}
