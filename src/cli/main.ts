import { CommanderError } from 'commander';
import { describeError, DisklessError } from '../errors.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { buildProgram } from './program.js';
import { checkArgumentBytes } from './raw-argv.js';
import { redactText } from '../util/redact.js';
import { killCommands } from '../process/command-processes.js';
import { abortOnSignals } from './signals.js';

/** The only place that parses argv and sets the exit code. */
async function main(argv: string[]): Promise<number> {
  const signals = abortOnSignals((sig) => {
    const killed = killCommands('SIGKILL');
    process.stderr.write(
      `diskless: ${sig} again: exiting now${killed > 0 ? `, the command killed (${killed} process${killed > 1 ? 'es' : ''})` : ''}; ` +
        'open uploads are aborted by the next run\n',
    );
    process.exit(sig === 'SIGTERM' ? 143 : EXIT.interrupted);
  });
  // A closed stdout (e.g. `| head`) must fail the command, not crash it.
  process.stdout.on('error', () => {});
  try {
    checkArgumentBytes(argv);
    await buildProgram({ argv, signal: signals.signal }).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version
      process.stderr.write(`diskless: error: ${err.message.replace(/^error: /, '')}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`diskless: error: ${redactText(describeError(err))}\n`);
    if (DisklessError.is(err)) for (const hint of err.hints) process.stderr.write(`diskless: hint: ${hint}\n`);
    if (!DisklessError.is(err) && process.env['DISKLESS_DEBUG']) console.error(err);
    return exitCodeOf(err);
  } finally {
    signals.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is settled; a read of stdin still blocked in the thread pool (its writer neither
// writes nor closes) must not keep a finished command alive.
setTimeout(() => process.exit(code), 2_000).unref();
