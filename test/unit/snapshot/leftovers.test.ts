import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeLeftovers } from '../../../src/snapshot/leftovers.js';
import type { MountEntry } from '../../../src/snapshot/mountinfo.js';
import { RunDir } from '../../../src/snapshot/run-dir.js';
import { silentLogger } from '../../../src/util/log.js';
import { FakeRunner, lvRow, lvsJson } from './fake-runner.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dl-leftovers-'));
  dirs.push(d);
  return d;
}

/** A run directory as a run with `pid` leaves it when killed: owner, intents, a mount dir. */
function deadRun(work: string, pid: number, intents: object[]): string {
  const dir = join(work, String(pid));
  mkdirSync(join(dir, 'mnt', 'srv', 'data'), { recursive: true });
  writeFileSync(join(dir, 'owner'), JSON.stringify({ pid, startTime: 1, host: 'h', startedAt: '' }));
  writeFileSync(join(dir, 'intents'), intents.map((i) => JSON.stringify(i)).join('\n') + '\n{"kind":"mou');
  return dir;
}

describe('leftovers of killed runs', () => {
  it('undoes a dead run in order: kill its tar, thaw, unmount deepest first, delete btrfs snapshots, remove its LVs', async () => {
    const work = workDir();
    const dir = deadRun(work, 4242, [
      { kind: 'lv', vg: 'vg0', name: 'diskless-snap-4242-data' },
      { kind: 'mount', path: '/x' },
      { kind: 'frozen', path: '/srv/frozen' },
      { kind: 'btrfs', path: '/srv/bt/.diskless-snap-4242-T' },
    ]);
    const mounts: MountEntry[] = [
      { device: '254:9', target: join(dir, 'mnt', 'srv'), fstype: 'ext4', source: '', options: [] },
      { device: '254:10', target: join(dir, 'mnt', 'srv', 'data'), fstype: 'xfs', source: '', options: [] },
      { device: '254:0', target: '/srv/data', fstype: 'xfs', source: '', options: [] },
    ];
    const runner = new FakeRunner().onPrefix(['lvs'], {
      stdout: lvsJson([
        lvRow({ vg_name: 'vg0', lv_name: 'data', lv_kernel_minor: '0' }),
        lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-4242-data', lv_attr: 'swi-a-s---', origin: 'data', lv_kernel_minor: '30' }),
      ]),
    });
    const killed: string[] = [];
    const removed = await removeLeftovers({
      run: runner.run, log: silentLogger, workDir: work, lvm: true, mounts: () => mounts,
      isRunAlive: () => false,
      killHolders: async (d) => { killed.push(d); return 1; },
    });
    expect(killed).toEqual([dir]);
    expect(runner.actions()).toEqual([
      'fsfreeze --unfreeze /srv/frozen',
      `umount ${join(dir, 'mnt', 'srv', 'data')}`,
      `umount ${join(dir, 'mnt', 'srv')}`,
      'btrfs subvolume delete /srv/bt/.diskless-snap-4242-T',
      'lvremove -y vg0/diskless-snap-4242-data',
    ]);
    expect(removed).toContain('snapshot LV vg0/diskless-snap-4242-data');
    expect(existsSync(dir)).toBe(false);
  });

  it('leaves the snapshots and mounts of a run that is still alive alone', async () => {
    const work = workDir();
    const dir = deadRun(work, 555, [{ kind: 'frozen', path: '/srv/frozen' }]);
    const runner = new FakeRunner().onPrefix(['lvs'], {
      stdout: lvsJson([lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-555-data', lv_attr: 'swi-a-s---', origin: 'data' })]),
    });
    const removed = await removeLeftovers({
      run: runner.run, log: silentLogger, workDir: work, lvm: true, mounts: () => [],
      isRunAlive: (pid) => pid === 555,
      killHolders: async () => 0,
    });
    expect(removed).toEqual([]);
    expect(runner.actions()).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  });

  it('removes snapshot LVs of dead pids even when the work dir is gone (reboot), but not other LVs', async () => {
    const runner = new FakeRunner().onPrefix(['lvs'], {
      stdout: lvsJson([
        lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-1-a', lv_attr: 'swi-a-s---', origin: 'a', lv_kernel_minor: '1' }),
        lvRow({ vg_name: 'vg0', lv_name: `diskless-snap-${process.pid}-b`, lv_attr: 'swi-a-s---', origin: 'b', lv_kernel_minor: '2' }),
        lvRow({ vg_name: 'vg0', lv_name: 'my-snap', lv_attr: 'swi-a-s---', origin: 'a', lv_kernel_minor: '3' }),
        lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-2-c', lv_attr: 'swi-a-s---', origin: 'c', lv_kernel_minor: '4' }),
      ]),
    });
    await removeLeftovers({
      run: runner.run, log: silentLogger, workDir: join(workDir(), 'absent'), lvm: true, mounts: () => [],
      isRunAlive: (pid) => pid === 2 || pid === process.pid,
    });
    // Its own pid counts as dead: the sweep runs before this run created anything.
    expect(runner.actions()).toEqual(['lvremove -y vg0/diskless-snap-1-a', `lvremove -y vg0/diskless-snap-${process.pid}-b`]);
  });

  it('does not remove a leftover snapshot that someone mounted elsewhere, and says how to', async () => {
    const warnings: string[] = [];
    const runner = new FakeRunner().onPrefix(['lvs'], {
      stdout: lvsJson([lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-1-a', lv_attr: 'swi-aos---', origin: 'a', lv_kernel_minor: '7' })]),
    });
    await removeLeftovers({
      run: runner.run, log: { ...silentLogger, warn: (m) => warnings.push(m) }, workDir: workDir(), lvm: true,
      mounts: () => [{ device: '254:7', target: '/mnt/inspect', fstype: 'ext4', source: '', options: [] }],
      isRunAlive: () => false,
    });
    expect(runner.actions()).toEqual([]);
    expect(warnings[0]).toMatch(/mounted outside diskless's work dir: not removed; unmount it, then lvremove vg0\/diskless-snap-1-a/);
  });

  it('deletes stale btrfs snapshots inside the subvolumes about to be backed up', async () => {
    const sub = workDir();
    mkdirSync(join(sub, '.diskless-snap-3-20260101T000000Z'));
    mkdirSync(join(sub, '.diskless-snap-4-20260101T000000Z'));
    mkdirSync(join(sub, 'data'));
    const runner = new FakeRunner();
    await removeLeftovers({ run: runner.run, log: silentLogger, workDir: workDir(), lvm: false, btrfsPaths: [sub], mounts: () => [], isRunAlive: (pid) => pid === 4 });
    expect(runner.actions()).toEqual([`btrfs subvolume delete ${join(sub, '.diskless-snap-3-20260101T000000Z')}`]);
  });

  it('records what a run creates so that a later run can read it back', () => {
    const work = workDir();
    const dir = RunDir.create(work, 99);
    dir.record({ kind: 'lv', vg: 'vg0', name: 'diskless-snap-99-x' });
    dir.record({ kind: 'mount', path: dir.mountPathFor('/srv/data') });
    expect(RunDir.open(work, 99).intents()).toEqual([
      { kind: 'lv', vg: 'vg0', name: 'diskless-snap-99-x' },
      { kind: 'mount', path: join(work, '99', 'mnt', 'srv', 'data') },
    ]);
    expect(dir.mountPathFor('/')).toBe(join(work, '99', 'mnt', 'root'));
    dir.remove();
    expect(existsSync(join(work, '99'))).toBe(false);
  });

  it('keeps the records of a run while something is still mounted below its directory', () => {
    const work = workDir();
    const dir = RunDir.create(work, 98);
    dir.record({ kind: 'mount', path: dir.mountPathFor('/srv') });
    dir.remove(() => [{ device: '254:3', target: dir.mountPathFor('/srv'), fstype: 'xfs', source: '', options: [] }]);
    expect(RunDir.open(work, 98).intents()).toHaveLength(1);
    dir.remove(() => []);
    expect(existsSync(join(work, '98'))).toBe(false);
  });
});
