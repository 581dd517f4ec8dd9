import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/errors.js';
import { discoverVolumes, type KeyContext } from '../../../src/snapshot/discover.js';
import type { MountEntry } from '../../../src/snapshot/mountinfo.js';
import { silentLogger, type Logger } from '../../../src/util/log.js';
import { FakeRunner, lvRow, lvsJson, vgsJson } from './fake-runner.js';

const MiB = 1024 * 1024;
const keys: KeyContext = { prefix: 'p/', template: '{host}/{name}-{timestamp}{ext}', host: 'h', timestamp: 'T', snapshotSize: { percentOfOrigin: 10 } };

function mount(device: string, target: string, fstype: string): MountEntry {
  return { device, target, fstype, source: '/dev/x', options: ['rw'] };
}

function lvmHost() {
  const runner = new FakeRunner()
    .onPrefix(['lvs'], {
      stdout: lvsJson([
        lvRow({ vg_name: 'vg0', lv_name: 'lvext4', lv_kernel_minor: '0', lv_size: String(320 * MiB) }),
        lvRow({ vg_name: 'vg0', lv_name: 'lvxfs', lv_kernel_minor: '1', lv_size: String(320 * MiB) }),
        lvRow({ vg_name: 'vg0', lv_name: 'pool', lv_path: '', lv_attr: 'twi-aotz--', segtype: 'thin-pool', lv_kernel_minor: '4' }),
        lvRow({ vg_name: 'vg0', lv_name: 'thinext4', lv_attr: 'Vwi-aotz--', segtype: 'thin', pool_lv: 'pool', lv_kernel_minor: '5' }),
        lvRow({ vg_name: 'vg0', lv_name: 'oldsnap', lv_attr: 'swi-aos---', origin: 'lvext4', lv_kernel_minor: '7' }),
        lvRow({ vg_name: 'vg0', lv_name: 'diskless-snap-9-lvxfs', lv_attr: 'swi-aos---', origin: 'lvxfs', lv_kernel_minor: '8' }),
        lvRow({ vg_name: 'vg0', lv_name: 'unmounted', lv_kernel_minor: '6' }),
        lvRow({ vg_name: 'vg0', lv_name: 'swap', lv_kernel_minor: '11' }),
        lvRow({ vg_name: 'vg0', lv_name: 'bt', lv_kernel_minor: '12' }),
      ]),
    })
    .onPrefix(['vgs'], { stdout: vgsJson([{ vg_name: 'vg0', vg_size: String(4096 * MiB), vg_free: String(1024 * MiB), vg_extent_size: String(4 * MiB), vg_free_count: '256' }]) })
    .on((a) => a[0] === 'blkid' && a.at(-1) === '/dev/vg0/swap', { stdout: 'swap\n' })
    .on((a) => a[0] === 'blkid' && a.at(-1) === '/dev/vg0/unmounted', { stdout: 'ext4\n' });
  const mounts = [
    mount('0:21', '/proc', 'proc'),
    mount('254:0', '/srv/ext4', 'ext4'),
    mount('254:1', '/srv/xfs', 'xfs'),
    mount('254:5', '/srv/thin', 'ext4'),
    mount('254:7', '/mnt/oldsnap', 'ext4'),
    mount('254:8', '/run/diskless-snapshot/9/mnt/srv/xfs', 'xfs'),
    mount('254:12', '/srv/bt', 'btrfs'),
  ];
  return { runner, mounts };
}

describe('volume discovery', () => {
  it('--all picks every mounted LV and skips snapshots, thin pools, unmounted LVs and leftovers of diskless', async () => {
    const { runner, mounts } = lvmHost();
    const warnings: string[] = [];
    const log: Logger = { ...silentLogger, warn: (m) => warnings.push(m) };
    const { volumes } = await discoverVolumes({ method: 'lvm', volumes: [], mounts: [], all: true }, { run: runner.run, mounts, log, pid: 42 }, keys);
    expect(volumes.map((v) => v.label)).toEqual(['vg0/lvext4', 'vg0/lvxfs', 'vg0/thinext4']);
    expect(warnings.join('\n')).toMatch(/skipping vg0\/bt \(btrfs on \/srv\/bt\): back it up with --method btrfs/);
  });

  it('plans a classic snapshot sized from the origin, and a thin snapshot for a thin volume', async () => {
    const { runner, mounts } = lvmHost();
    const { volumes } = await discoverVolumes({ method: 'lvm', volumes: [], mounts: [], all: true }, { run: runner.run, mounts, log: silentLogger, pid: 42 }, keys);
    expect(volumes[0]).toMatchObject({
      method: 'lvm', vg: 'vg0', lv: 'lvext4', fstype: 'ext4', mountpoint: '/srv/ext4', key: 'p/h/vg0-lvext4-T.tar',
      snapshot: { kind: 'classic', name: 'diskless-snap-42-lvext4', size: 32 * MiB },
    });
    expect(volumes[2]).toMatchObject({ lv: 'thinext4', snapshot: { kind: 'thin', name: 'diskless-snap-42-thinext4', pool: 'pool' } });
  });

  it('takes an unmounted LV given by --volume and finds its filesystem with blkid', async () => {
    const { runner, mounts } = lvmHost();
    const { volumes } = await discoverVolumes({ method: 'lvm', volumes: ['vg0/unmounted'], mounts: [], all: false }, { run: runner.run, mounts, log: silentLogger }, keys);
    expect(volumes[0]).toMatchObject({ label: 'vg0/unmounted', mountpoint: null, fstype: 'ext4' });
  });

  it('maps --mount to the LV mounted there', async () => {
    const { runner, mounts } = lvmHost();
    const { volumes } = await discoverVolumes(
      { method: 'lvm', volumes: [], mounts: ['/srv/xfs'], all: false },
      { run: runner.run, mounts, log: silentLogger, realpath: (p) => p },
      keys,
    );
    expect(volumes[0]).toMatchObject({ label: 'vg0/lvxfs', fstype: 'xfs' });
  });

  it('refuses snapshots, swap, unknown LVs and paths that are not on LVM, before creating anything', async () => {
    const { runner, mounts } = lvmHost();
    const ctx = { run: runner.run, mounts, log: silentLogger, realpath: (p: string) => p };
    const lvm = (volumes: string[], m: string[] = []) => discoverVolumes({ method: 'lvm', volumes, mounts: m, all: false }, ctx, keys);
    await expect(lvm(['vg0/oldsnap'])).rejects.toThrow(/is itself a snapshot; give its origin \(vg0\/lvext4\)/);
    await expect(lvm(['vg0/swap'])).rejects.toThrow(/is swap/);
    await expect(lvm(['vg0/nope'])).rejects.toThrow(/no such logical volume/);
    await expect(lvm(['data'])).rejects.toThrow(/write it as VG\/LV/);
    await expect(lvm([], ['/proc'])).rejects.toThrow(/is not a logical volume; use --method btrfs, fsfreeze or none/);
    expect(runner.actions()).toEqual([]);
  });

  it('refuses two volumes that would be stored under the same key', async () => {
    const { runner, mounts } = lvmHost();
    await expect(
      discoverVolumes({ method: 'lvm', volumes: ['vg0/lvext4', 'vg0/lvxfs'], mounts: [], all: false }, { run: runner.run, mounts, log: silentLogger }, { ...keys, template: '{host}/{vg}{ext}' }),
    ).rejects.toThrow(/would both be stored as p\/h\/vg0.tar/);
  });

  it('refuses --all with other selections, and an empty selection', async () => {
    const { runner, mounts } = lvmHost();
    const ctx = { run: runner.run, mounts, log: silentLogger };
    await expect(discoverVolumes({ method: 'lvm', volumes: ['vg0/lvext4'], mounts: [], all: true }, ctx, keys)).rejects.toThrow(UsageError);
    await expect(discoverVolumes({ method: 'lvm', volumes: [], mounts: [], all: false }, ctx, keys)).rejects.toThrow(/nothing to back up/);
  });

  it('checks paths for the btrfs and fsfreeze methods: the right filesystem, a mount point, never /', async () => {
    const mounts = [mount('0:40', '/', 'ext4'), mount('0:41', '/srv/bt', 'btrfs'), mount('7:0', '/srv/ext', 'ext4')];
    const ctx = { run: new FakeRunner().run, mounts, log: silentLogger, realpath: (p: string) => p };
    const req = (method: 'btrfs' | 'fsfreeze', m: string[]) => discoverVolumes({ method, volumes: [], mounts: m, all: false }, ctx, keys);
    await expect(req('btrfs', ['/srv/bt/sub'])).resolves.toMatchObject({ volumes: [{ method: 'btrfs', path: '/srv/bt/sub', name: 'srv-bt-sub' }] });
    await expect(req('btrfs', ['/srv/ext'])).rejects.toThrow(/is on ext4, not btrfs/);
    await expect(req('fsfreeze', ['/srv/ext/dir'])).rejects.toThrow(/fsfreeze needs a mount point/);
    await expect(req('fsfreeze', ['/'])).rejects.toThrow(/refuses the root filesystem/);
    await expect(discoverVolumes({ method: 'btrfs', volumes: [], mounts: [], all: true }, ctx, keys)).rejects.toThrow(/--all works with --method lvm only/);
  });
});
