import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatMetrics, writeMetricsFile } from '../../../src/cli/metrics-file.js';

describe('--metrics-file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'diskless-metrics-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = { command: 'run', exitStatus: 0, bytes: 1234, objects: 7, durationSeconds: 12.3456, endTime: new Date('2026-12-02T01:00:00Z') };

  it('is Prometheus text: HELP, TYPE gauge and one sample per metric, labelled with the command', () => {
    const text = formatMetrics(run);
    expect(text).toContain('# TYPE diskless_last_run_bytes gauge\ndiskless_last_run_bytes{command="run"} 1234\n');
    expect(text).toContain('diskless_last_run_success{command="run"} 1\n');
    expect(text).toContain('diskless_last_run_exit_status{command="run"} 0\n');
    expect(text).toContain('diskless_last_run_objects{command="run"} 7\n');
    expect(text).toContain('diskless_last_run_duration_seconds{command="run"} 12.346\n');
    expect(text).toContain(`diskless_last_run_end_time_seconds{command="run"} ${Date.parse('2026-12-02T01:00:00Z') / 1000}\n`);
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) diskless_\w+ .+|diskless_\w+\{command="run"\} [\d.]+)$/);
  });

  it('replaces the file whole (temporary file renamed), leaving no temporary file', () => {
    const file = join(dir, 'diskless.prom');
    writeFileSync(file, 'old\n');
    writeMetricsFile(file, { ...run, exitStatus: 5 });
    expect(readFileSync(file, 'utf8')).toContain('diskless_last_run_success{command="run"} 0\n');
    expect(readdirSync(dir)).toEqual(['diskless.prom']);
  });

  it('fails without leaving anything when the directory does not exist', () => {
    expect(() => writeMetricsFile(join(dir, 'missing', 'x.prom'), run)).toThrow(/ENOENT/);
  });
});
