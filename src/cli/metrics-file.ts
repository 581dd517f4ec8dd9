import { renameSync, unlinkSync, writeFileSync } from 'node:fs';

export interface RunMetrics {
  command: string;
  /** Exit status of the run (0: the backup is whole and safe). */
  exitStatus: number;
  /** Bytes stored (or read back, for verify/restore/get); 0 when unknown. */
  bytes: number;
  objects: number;
  durationSeconds: number;
  endTime: Date;
}

/**
 * The Prometheus text format node_exporter's textfile collector reads (`--collector.textfile.directory`; the file
 * name must end in `.prom`): the last run's size, duration, status and end time as gauges.
 */
export function formatMetrics(m: RunMetrics): string {
  const labels = `{command="${m.command.replace(/["\\\n]/g, '_')}"}`;
  const gauge = (name: string, help: string, value: number) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}${labels} ${value}\n`;
  return (
    gauge('diskless_last_run_success', 'Whether the last diskless run succeeded (1) or failed (0).', m.exitStatus === 0 ? 1 : 0) +
    gauge('diskless_last_run_exit_status', 'Exit status of the last diskless run.', m.exitStatus) +
    gauge('diskless_last_run_bytes', 'Bytes the last diskless run stored (or read back).', m.bytes) +
    gauge('diskless_last_run_objects', 'Objects (files) the last diskless run stored (or read back).', m.objects) +
    gauge('diskless_last_run_duration_seconds', 'Duration of the last diskless run.', Math.round(m.durationSeconds * 1000) / 1000) +
    gauge('diskless_last_run_end_time_seconds', 'When the last diskless run ended, Unix time.', Math.round(m.endTime.getTime() / 1000))
  );
}

/** Written whole or not at all: to FILE.tmp-PID beside it, then renamed over FILE (node_exporter never reads half a file). */
export function writeMetricsFile(file: string, m: RunMetrics): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, formatMetrics(m), { mode: 0o644 });
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    throw err;
  }
}
