import { describe, expect, it } from 'vitest';
import { ProducerError } from '../../../src/errors.js';
import { FillWatch } from '../../../src/snapshot/fill-watch.js';
import { silentLogger } from '../../../src/util/log.js';
import { FakeRunner, lvRow, lvsJson } from './fake-runner.js';

const target = { lv: 'vg0/diskless-snap-1-data', what: 'snapshot vg0/diskless-snap-1-data of vg0/data', remedy: 'use a larger --snapshot-size' };

function snapAt(percents: string[], attr = 'swi-aos---') {
  let i = 0;
  return new FakeRunner().onPrefix(['lvs'], () => ({
    stdout: lvsJson([lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-1-data', lv_attr: i >= percents.length - 1 ? attr : 'swi-aos---', lv_size: String(8 * 1024 * 1024), data_percent: percents[Math.min(i++, percents.length - 1)]! })]),
  }));
}

describe('snapshot fill watch', () => {
  it('aborts with a message that says what filled up and what to change, before 100%', async () => {
    const runner = snapAt(['10.00', '50.00', '91.20']);
    const watch = new FillWatch({ run: runner.run, targets: [target], abortAtPercent: 90, intervalMs: 5, log: silentLogger }).start();
    await new Promise<void>((resolve) => watch.signal.addEventListener('abort', () => resolve()));
    await watch.stop();
    const reason = watch.signal.reason as ProducerError;
    expect(reason).toBeInstanceOf(ProducerError);
    expect(reason.message).toMatch(/snapshot vg0\/diskless-snap-1-data of vg0\/data reached 91\.2% of its 8\.00 MiB \(the limit is 90%\).*nothing of this volume was committed/);
    expect(reason.hints).toEqual(['use a larger --snapshot-size']);
    expect(watch.maxPercent).toBe(91.2);
  });

  it('reports a snapshot the kernel already invalidated as overflowed', async () => {
    const runner = snapAt(['100.00'], 'swi-I-s---');
    const watch = new FillWatch({ run: runner.run, targets: [target], abortAtPercent: 90, intervalMs: 5, log: silentLogger });
    await expect(watch.check()).rejects.toThrow(/overflowed .* and the kernel invalidated it/);
  });

  it('passes the final check while the snapshot stays below the limit, and catches an overflow between two polls', async () => {
    const runner = snapAt(['20.00', '30.00', '99.00']);
    const watch = new FillWatch({ run: runner.run, targets: [target], abortAtPercent: 90, intervalMs: 60_000, log: silentLogger }).start();
    await watch.check();
    await expect(watch.check()).rejects.toThrow(/reached 99\.0%/);
    await watch.stop();
  });

  it('fails when the snapshot disappears while it is read', async () => {
    const runner = new FakeRunner().onPrefix(['lvs'], { code: 5, stderr: 'Failed to find logical volume' });
    const watch = new FillWatch({ run: runner.run, targets: [target], abortAtPercent: 90, intervalMs: 5, log: silentLogger });
    await expect(watch.check()).rejects.toThrow(/disappeared while it was being read/);
  });
});
