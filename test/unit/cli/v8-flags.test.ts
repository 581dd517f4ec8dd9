import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandOf, GLOBAL_OPTIONS_WITH_VALUE } from '../../../src/cli/global-options.js';
import { buildProgram } from '../../../src/cli/program.js';
import { RunReport } from '../../../src/cli/run-report.js';
import { v8FlagsFor } from '../../../src/cli/v8-flags.js';

const READER_ONLY_OUT = ['--optimize-for-size', '--semi-space-growth-factor=1'];

describe('the launcher\'s V8 flags (src/cli/v8-flags.ts)', () => {
  it.each(['get', 'restore', 'verify'])('%s runs without --optimize-for-size and --semi-space-growth-factor', (command) => {
    const flags = v8FlagsFor([command, 's3://b/k']);
    for (const flag of READER_ONLY_OUT) expect(flags).not.toContain(flag);
    expect(flags.some((f) => f.startsWith('--semi-space-growth-factor'))).toBe(false);
  });

  it.each(['put', 'run', 'serve', 'snapshot', 'ls', 'prune'])('%s runs with --optimize-for-size and --semi-space-growth-factor=1', (command) => {
    expect(v8FlagsFor([command, 's3://b/k'])).toEqual(expect.arrayContaining(READER_ONLY_OUT));
  });

  it('every command, and no command at all, turns off TurboFan and Maglev', () => {
    for (const argv of [['get'], ['put'], [], ['--help'], ['--version']]) expect(v8FlagsFor(argv)).toEqual(expect.arrayContaining(['--no-opt', '--no-maglev']));
  });

  it('a global option\'s value that names a command is not taken for the command', () => {
    // A metrics file called "get" before put, and one called "put" before get.
    expect(v8FlagsFor(['--metrics-file', 'get', 'put', 's3://b/k'])).toEqual(expect.arrayContaining(READER_ONLY_OUT));
    expect(v8FlagsFor(['--metrics-file', 'put', 'get', 's3://b/k'])).not.toContain('--optimize-for-size');
    expect(v8FlagsFor(['--log-format', 'json', '--metrics-file', 'verify', 'run', '--to', 's3://b/p'])).toEqual(expect.arrayContaining(READER_ONLY_OUT));
    // `--name=value` is one argument: the next one is the command.
    expect(v8FlagsFor(['--metrics-file=put', 'restore', 's3://b/p', '/tmp/x'])).not.toContain('--optimize-for-size');
    // After the command, a global option's value is no command either.
    expect(v8FlagsFor(['put', '--metrics-file', 'get', 's3://b/k'])).toEqual(expect.arrayContaining(READER_ONLY_OUT));
  });
});

describe('commandOf', () => {
  it('finds the command as commander does: after options, global options\' values and `--`', () => {
    expect(commandOf(['--log-format', 'json', 'get', 's3://b/k'])).toBe('get');
    expect(commandOf(['--log-format=json', 'get'])).toBe('get');
    expect(commandOf(['--', 'get'])).toBe('get');
    expect(commandOf(['--metrics-file', 'get'])).toBeUndefined();
    expect(commandOf(['--help'])).toBeUndefined();
  });

  it('skips the values of exactly the global options the CLI defines with a value', () => {
    const program = buildProgram({ argv: [], signal: new AbortController().signal, report: new RunReport() });
    const withValue = program.options.filter((o) => o.required || o.optional).map((o) => o.long);
    expect([...GLOBAL_OPTIONS_WITH_VALUE].sort()).toEqual(withValue.sort());
  });
});

describe('the module the launcher loads before the CLI', () => {
  /** The specifiers a source file imports (static and dynamic). */
  function importsOf(file: string): string[] {
    const source = readFileSync(fileURLToPath(new URL(`../../../src/cli/${file}`, import.meta.url)), 'utf8');
    return [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2] ?? '');
  }

  it('imports nothing but the global options, which import nothing', () => {
    expect(importsOf('v8-flags.ts')).toEqual(['./global-options.js']);
    expect(importsOf('global-options.ts')).toEqual([]);
  });
});
