import { describe, expect, it } from 'vitest';
import { cliLogger } from '../../../src/cli/cli-log.js';
import { etaSeconds, formatDuration, formatProgress, fromTransfer, ProgressReporter, RateWindow } from '../../../src/cli/progress.js';
import { StatusLine } from '../../../src/cli/status-line.js';
import { MiB } from '../../../src/util/size.js';

/** A fake stderr: what was written, and whether it claims to be a terminal. */
function fakeStream(isTTY: boolean, columns = 100) {
  const writes: string[] = [];
  const out = { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { out, writes, text: () => writes.join('') };
}

describe('progress line', () => {
  it('names bytes read and stored, rate, files open and done, and an ETA when the total is known', () => {
    const p = fromTransfer({ bytesRead: 300 * MiB, bytesStored: 200 * MiB, streamsOpen: 3, streamsDone: 12, bytesExpected: 1000 * MiB }, true);
    const text = formatProgress('uploading', p, 10 * MiB);
    expect(text).toBe('uploading: 300 MiB read / 200 MiB stored of ~1000 MiB, 10.0 MiB/s, 3 files open, 12 done, ETA 1:10');
  });

  it('shows no ETA without a total or a rate, and no files for put', () => {
    const p = fromTransfer({ bytesRead: 5 * MiB, bytesStored: 0, streamsOpen: 1, streamsDone: 0 }, false);
    expect(formatProgress('uploading', p, undefined)).toBe('uploading: 5.00 MiB read / 0 B stored, - /s');
    expect(etaSeconds({ ...p, total: 10 * MiB }, 0)).toBeUndefined();
  });

  it('restore shows done of total and files done of all files', () => {
    expect(formatProgress('restoring', { bytes: MiB, total: 4 * MiB, files: 60, filesDone: 7 }, MiB)).toBe('restoring: 1.00 MiB of 4.00 MiB, 1.00 MiB/s, 7/60 file(s), ETA 0:03');
  });

  it('formats durations as m:ss and h:mm:ss', () => {
    expect(formatDuration(42)).toBe('0:42');
    expect(formatDuration(3725)).toBe('1:02:05');
  });

  it('measures the rate over the last window only', () => {
    const w = new RateWindow(10_000);
    expect(w.rate()).toBeUndefined();
    w.add(0, 0);
    w.add(10_000, 100 * MiB); // 10 MiB/s for the first 10 s
    w.add(20_000, 120 * MiB); // then 2 MiB/s
    expect(w.rate()).toBe(2 * MiB);
  });

  it('on a terminal, draws the live line at once when poked and erases it when stopped', () => {
    const f = fakeStream(true);
    const line = new StatusLine(f.out);
    const r = ProgressReporter.start('restoring', () => ({ bytes: 5, total: 10, files: 2, filesDone: 1 }), { progressInterval: 30 }, cliLogger('info', 'text', line), line)!;
    r.poke();
    expect(f.text()).toMatch(/^\r\x1b\[Krestoring: 5 B of 10 B, - \/s, 1\/2 file\(s\)$/);
    r.stop();
    expect(f.writes.at(-1)).toBe('\r\x1b[K');
  });

  it('keeps log lines apart from the live line: erased, the line written, then drawn again', () => {
    const f = fakeStream(true);
    const line = new StatusLine(f.out);
    line.show('uploading: 1 B');
    cliLogger('info', 'text', line).info('a message');
    expect(f.writes.slice(1)).toEqual(['\r\x1b[K', 'diskless: a message\n', '\r\x1b[Kuploading: 1 B']);
  });

  it('never wraps: the live line is cut to the terminal width', () => {
    const f = fakeStream(true, 30);
    new StatusLine(f.out).show('x'.repeat(100));
    expect(f.text().replace('\r\x1b[K', '')).toHaveLength(29);
  });

  it('draws nothing with --no-progress or -q', () => {
    const f = fakeStream(true);
    const line = new StatusLine(f.out);
    const log = cliLogger('info', 'text', line);
    expect(ProgressReporter.start('x', () => ({ bytes: 0 }), { progress: false, progressInterval: 30 }, log, line)).toBeUndefined();
    expect(ProgressReporter.start('x', () => ({ bytes: 0 }), { quiet: true, progressInterval: 30 }, log, line)).toBeUndefined();
  });
});

describe('--log-format json', () => {
  it('writes each event as one JSON object with level, time, event, message and fields; passwords redacted', () => {
    const f = fakeStream(false);
    const log = cliLogger('info', 'json', new StatusLine(f.out));
    log.info('running mysqldump -psecret shop');
    log.event('info', 'progress', { bytes: 5 }, 'uploading: 5 B');
    log.debug('not shown at info');
    const lines = f.text().trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'info', event: 'message', message: 'running mysqldump -p*** shop' });
    expect(new Date(lines[0]!['time'] as string).toISOString()).toBe(lines[0]!['time']);
    expect(lines[1]).toMatchObject({ level: 'info', event: 'progress', bytes: 5, message: 'uploading: 5 B' });
  });
});
