import { Command } from 'commander';
import { shimPath } from '../../native/shim-path.js';

export function shimPathCommand(): Command {
  return new Command('shim-path')
    .summary('print the path of the LD_PRELOAD shim')
    .description("Prints the path of the LD_PRELOAD shim library, for setting a program's environment by hand (diskless serve prints it in its export lines).")
    .action(() => {
      process.stdout.write(shimPath() + '\n');
    });
}
