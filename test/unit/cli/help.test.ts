import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import { RunReport } from '../../../src/cli/run-report.js';

/** The whole --help of a command as printed (addHelpText sections included), at a given width. */
function helpOf(cmd: Command, width: number): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s), getOutHelpWidth: () => width });
  cmd.outputHelp();
  return out;
}

const program = buildProgram({ argv: [], signal: new AbortController().signal, report: new RunReport() });
const commands = [program, ...program.commands];

describe('--help', () => {
  it.each(commands.map((c) => [c.name(), c] as const))('%s: has an Examples section with at least one diskless command', (_name, cmd) => {
    const help = helpOf(cmd, 100);
    expect(help).toMatch(/\nExamples:\n( {2}\S.*\n)+/);
    expect(help.slice(help.indexOf('Examples:'))).toMatch(/\n {2}(\S+ \| )?.*diskless /);
  });

  it.each(commands.map((c) => [c.name(), c] as const))('%s: descriptions break lines only between sentences; commander wraps them', (_name, cmd) => {
    // The description: every line ends a sentence (or introduces what follows with a colon); no hard-wrapped text.
    for (const line of cmd.description().split('\n').filter((l) => l !== '')) expect(line, cmd.description()).toMatch(/[.:)]$/);
    for (const text of [cmd.summary(), ...cmd.options.map((o) => o.description), ...cmd.registeredArguments.map((a) => a.description)]) {
      expect(text, text).not.toContain('\n');
    }
    // Rendered wide, the description is one line per paragraph: no line ends mid-sentence.
    const wide = helpOf(cmd, 10_000);
    const description = wide.split('\n\n')[1]!;
    for (const line of description.split('\n')) expect(line, wide).toMatch(/[.:)]$/);
  });

  it('shows the global options (--log-format, --metrics-file) in every command\'s help', () => {
    for (const cmd of program.commands) {
      const help = helpOf(cmd, 100);
      expect(help, cmd.name()).toContain('--log-format <format>');
      expect(help, cmd.name()).toContain('--metrics-file <file>');
    }
  });
});
