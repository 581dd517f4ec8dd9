import { Command } from 'commander';
import { shimPath } from '../../native/shim-path.js';

export function shimPathCommand(): Command {
  return new Command('shim-path').summary('print the path of the LD_PRELOAD shim').action(() => {
    process.stdout.write(shimPath() + '\n');
  });
}
