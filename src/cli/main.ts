import { CommanderError } from 'commander';
import { describeError, DisklessError } from '../errors.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { buildProgram } from './program.js';
import { checkArgumentBytes } from './raw-argv.js';
import { redactText } from '../util/redact.js';
import { killCommands } from '../process/command-processes.js';
import { RunReport } from './run-report.js';
import { stderrLine } from './status-line.js';
import { abortOnSignals } from './signals.js';

/** The only place that parses argv and sets the exit code. */
async function main(argv: string[]): Promise<number> {
  const report = new RunReport(argv);
  const signals = abortOnSignals((sig) => {
    const killed = killCommands('SIGKILL');
    stderrLine.clear();
    const message =
      `${sig} again: exiting now${killed > 0 ? `, the command killed (${killed} process${killed > 1 ? 'es' : ''})` : ''}; ` +
      'open uploads are aborted by the next run';
    process.stderr.write(report.format === 'json' ? `${JSON.stringify({ level: 'error', time: new Date().toISOString(), event: 'error', message })}\n` : `diskless: ${message}\n`);
    process.exit(sig === 'SIGTERM' ? 143 : EXIT.interrupted);
  });
  // A closed stdout (e.g. `| head`) must fail the command, not crash it.
  process.stdout.on('error', () => {});
  try {
    checkArgumentBytes(argv);
    await buildProgram({ argv, signal: signals.signal, report }).parseAsync(argv, { from: 'user' });
    report.finish(EXIT.ok);
    return EXIT.ok;
  } catch (err) {
    stderrLine.clear();
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      report.finish(EXIT.usage, { message: err.message.replace(/^error: /, ''), hints: [] });
      return EXIT.usage;
    }
    const code = exitCodeOf(err);
    report.finish(code, { message: redactText(describeError(err)), hints: DisklessError.is(err) ? [...err.hints] : [] });
    if (!DisklessError.is(err) && process.env['DISKLESS_DEBUG']) console.error(err);
    return code;
  } finally {
    signals.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is settled; a read of stdin still blocked in the thread pool (its writer neither
// writes nor closes) must not keep a finished command alive.
setTimeout(() => process.exit(code), 2_000).unref();
