import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InterruptedError, ProducerError } from '../../../src/errors.js';
import { backupVolume, type JobEnv } from '../../../src/snapshot/backup-job.js';
import { RunDir } from '../../../src/snapshot/run-dir.js';
import type { LvmVolume } from '../../../src/snapshot/volume-plan.js';
import { planParts } from '../../../src/upload/part-planner.js';
import { TransferMeter } from '../../../src/upload/transfer-meter.js';
import { silentLogger } from '../../../src/util/log.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { testContext } from '../../support/uploader.js';
import { FakeRunner, lvRow, lvsJson } from './fake-runner.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dl-job-'));
  dirs.push(d);
  return d;
}

const volume: LvmVolume = {
  method: 'lvm', label: 'vg0/data', name: 'vg0-data', mountpoint: '/srv/data', fstype: 'xfs', key: 'p/h/vg0-data-T.tar',
  vg: 'vg0', lv: 'data', size: 320 * 1024 * 1024, snapshot: { kind: 'classic', name: 'diskless-snap-1-data', size: 32 * 1024 * 1024 },
};

/** LVM and mount answered by the fake; tar reads a real directory instead of the (fake) mount. */
function setup(options: { percents?: string[]; tar?: string[] } = {}) {
  const source = tempDir();
  mkdirSync(join(source, 'dir'));
  writeFileSync(join(source, 'dir', 'file.txt'), 'hello\n');
  let poll = 0;
  const percents = options.percents ?? ['1.00'];
  const runner = new FakeRunner().onPrefix(['lvs'], () => ({
    stdout: lvsJson([lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-1-data', lv_attr: 'swi-aos---', data_percent: percents[Math.min(poll++, percents.length - 1)]! })]),
  }));
  const store = new MemoryObjectStore();
  const runDir = RunDir.create(tempDir(), 1);
  const env: JobEnv = {
    run: runner.run, log: silentLogger, runDir, timestamp: 'T', fillAbortPercent: 90, fillIntervalMs: 10, freezeTimeoutMs: 60_000,
    upload: testContext(store), bucket: 'b', plan: planParts(),
    tarArgv: () => options.tar ?? ['tar', '--create', '--file=-', `--directory=${source}`, '.'],
  };
  return { runner, store, env, runDir, source };
}

const mountTarget = (runDir: RunDir) => runDir.mountPathFor('/srv/data');
const ENDLESS = ['sh', '-c', 'while :; do head -c 65536 /dev/zero; sleep 0.02; done'];

describe('one volume backup (LVM)', () => {
  it('tells the progress meter the snapshot filesystem\'s used space as the expected size (ETA), and counts the archive', async () => {
    const { store, env } = setup();
    const meter = new TransferMeter();
    const result = await backupVolume(volume, { ...env, upload: testContext(store, { meter }) });
    // The (fake) mount point is a directory under the temporary directory: its filesystem's used space, in whole blocks.
    const { bsize } = statfsSync(tmpdir());
    const expected = meter.sample().bytesExpected!;
    expect(expected).toBeGreaterThan(0);
    expect(expected % bsize).toBe(0);
    expect(meter.sample()).toMatchObject({ bytesRead: result.size, bytesStored: result.size, streamsOpen: 0, streamsDone: 1 });
  });

  it('snapshots, mounts read-only, stores the tar stream, then unmounts and removes the snapshot', async () => {
    const { runner, store, env, runDir } = setup();
    const result = await backupVolume(volume, env);
    expect(runner.actions()).toEqual([
      'lvcreate -y -s -L 33554432b -n diskless-snap-1-data --addtag diskless-snapshot vg0/data',
      `mount -t xfs -o ro,nodev,nosuid,noexec,nouuid /dev/vg0/diskless-snap-1-data ${mountTarget(runDir)}`,
      `umount ${mountTarget(runDir)}`,
      'lvremove -y vg0/diskless-snap-1-data',
    ]);
    const archive = store.data('b', volume.key)!;
    expect(result.size).toBe(archive.length);
    expect(execFileSync('tar', ['-tf', '-'], { input: archive }).toString().split('\n')).toContain('./dir/file.txt');
    expect(result.details).toMatchObject({ snapshot: 'vg0/diskless-snap-1-data', kind: 'classic', mountOptions: ['ro', 'nodev', 'nosuid', 'noexec', 'nouuid'] });
    expect(result.cleanupFailures).toEqual([]);
  });

  it('activates a thin snapshot with -K and watches its pool', async () => {
    const { runner, env } = setup();
    const thin: LvmVolume = { ...volume, fstype: 'ext4', snapshot: { kind: 'thin', name: 'diskless-snap-1-data', pool: 'pool' } };
    await backupVolume(thin, env);
    expect(runner.actions().slice(0, 2)).toEqual([
      'lvcreate -y -s -n diskless-snap-1-data --addtag diskless-snapshot vg0/data',
      'lvchange -ay -K vg0/diskless-snap-1-data',
    ]);
    expect(runner.calls.some((c) => c[0] === 'lvs' && c.at(-1) === 'vg0/pool')).toBe(true);
  });

  it('commits nothing and still cleans up when tar fails', async () => {
    const { runner, store, env, runDir } = setup({ tar: ['sh', '-c', 'head -c 100000 /dev/zero; echo "tar: ./x: Cannot open: Input/output error" >&2; exit 2'] });
    const err = await backupVolume(volume, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerError);
    expect((err as Error).message).toMatch(/exited with status 2: tar: \.\/x: Cannot open: Input\/output error/);
    expect(store.objects.size).toBe(0);
    expect(store.uploads.size).toBe(0);
    expect(runner.actions().slice(-2)).toEqual([`umount ${mountTarget(runDir)}`, 'lvremove -y vg0/diskless-snap-1-data']);
  });

  it('stops tar and commits nothing when the snapshot fills up, and says so rather than what tar saw', async () => {
    const { runner, store, env, runDir } = setup({ percents: ['5.00', '40.00', '95.00'], tar: ENDLESS });
    const err = await backupVolume(volume, env).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/snapshot vg0\/diskless-snap-1-data of vg0\/data reached 95\.0%/);
    expect(store.objects.size).toBe(0);
    expect(store.uploads.size).toBe(0);
    expect(runner.actions().slice(-2)).toEqual([`umount ${mountTarget(runDir)}`, 'lvremove -y vg0/diskless-snap-1-data']);
  });

  it('stops at once on the caller\'s signal (SIGINT/SIGTERM), commits nothing, and cleans up', async () => {
    const { runner, store, env } = setup({ tar: ENDLESS });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new InterruptedError('SIGTERM')), 300);
    const started = Date.now();
    const err = await backupVolume(volume, { ...env, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(store.objects.size).toBe(0);
    expect(runner.actions().at(-1)).toBe('lvremove -y vg0/diskless-snap-1-data');
  });

  it('removes a snapshot whose mount failed, and reports the mount error', async () => {
    const { runner, store, env } = setup();
    runner.onPrefix(['mount'], { code: 32, stderr: 'mount: wrong fs type, bad option, bad superblock' });
    const err = await backupVolume({ ...volume, fstype: 'vfat' }, env).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/mount -t vfat .* exited with status 32: mount: wrong fs type/);
    expect(runner.actions().at(-1)).toBe('lvremove -y vg0/diskless-snap-1-data');
    expect(store.objects.size).toBe(0);
  });

  it('retries an xfs mount with norecovery when the first mount fails', async () => {
    const { runner, env } = setup();
    let first = true;
    runner.on((a) => a[0] === 'mount' && first, () => ((first = false), { code: 32, stderr: 'mount: log recovery failed' }));
    const result = await backupVolume(volume, env);
    expect(result.details['mountOptions']).toEqual(['ro', 'nodev', 'nosuid', 'noexec', 'nouuid', 'norecovery']);
  });
});
