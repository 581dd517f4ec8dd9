/**
 * The CLI's global options: program.ts defines them from here, and the code that must find the
 * command before commander parses argv (the launcher's V8 flags, v8-flags.ts; the run report's
 * name of a command that failed to parse, run-report.ts) skips their values with commandOf.
 * Imports nothing: the launcher loads it before any of the CLI's modules.
 */
export const GLOBAL_OPTIONS = {
  logFormat: { flags: '--log-format <format>', description: 'stderr as text, or one JSON object per line (and a JSON summary last)' },
  metricsFile: { flags: '--metrics-file <file>', description: "write the run's size, duration, status and end time there (Prometheus textfile for node_exporter)" },
} as const;

/** Long names of the global options that take a value (`--name value` or `--name=value`). */
export const GLOBAL_OPTIONS_WITH_VALUE: readonly string[] = Object.values(GLOBAL_OPTIONS)
  .filter((o) => o.flags.includes(' <'))
  .map((o) => o.flags.slice(0, o.flags.indexOf(' ')));

/**
 * The command word of argv (the arguments after `diskless`) as commander finds it: the first
 * argument that is not an option (commander: `-` alone is an operand) nor the value of a global
 * option that takes one; after `--`, the next argument. Undefined if there is none.
 */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1];
    if (arg.length < 2 || !arg.startsWith('-')) return arg;
    if (GLOBAL_OPTIONS_WITH_VALUE.includes(arg)) i++;
  }
  return undefined;
}
