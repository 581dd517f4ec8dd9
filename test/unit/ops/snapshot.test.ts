import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PreflightError, ProducerError, UsageError } from '../../../src/errors.js';
import { snapshot, type SnapshotOptions } from '../../../src/ops/snapshot.js';
import type { MountEntry } from '../../../src/snapshot/mountinfo.js';
import { MANIFEST_FORMAT, type Manifest } from '../../../src/manifest/manifest.js';
import { silentLogger } from '../../../src/util/log.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { expectValidManifest } from '../../support/manifest-schema.js';
import { FakeRunner } from '../snapshot/fake-runner.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dl-op-'));
  dirs.push(d);
  return d;
}

/** Three directories backed up with --method none (no root, no snapshot): the policy is what is under test. */
function setup(failing: string[] = []) {
  const base = tempDir();
  const trees = ['alpha', 'beta', 'gamma'].map((n) => {
    const d = join(base, n);
    mkdirSync(d);
    writeFileSync(join(d, 'f.txt'), `${n}\n`);
    return d;
  });
  const store = new MemoryObjectStore();
  const mounts: MountEntry[] = [{ device: '0:1', target: '/', fstype: 'ext4', source: '/dev/x', options: [] }];
  const options: SnapshotOptions = {
    to: 's3://bkt/backups/',
    method: 'none',
    mounts: trees,
    store,
    log: silentLogger,
    run: new FakeRunner().run,
    uid: 0,
    host: 'h1',
    now: new Date('2026-11-21T10:15:02Z'),
    workDir: join(base, 'work'),
    stateDir: join(base, 'state'),
    readMounts: () => mounts,
    // A volume "fails" like tar does on an unreadable tree: exit 2 with a message.
    tarArgv: (dir) => (failing.some((f) => dir.endsWith(f)) ? ['sh', '-c', 'echo "tar: ./x: Cannot open: Permission denied" >&2; exit 2'] : ['tar', '--create', '--file=-', `--directory=${dir}`, '.']),
  };
  return { store, options, trees };
}

function manifestOf(store: MemoryObjectStore): Manifest {
  return JSON.parse(store.data('bkt', 'backups/h1/diskless-manifest-20261121T101502Z.json')!.toString()) as Manifest;
}

describe('diskless snapshot (library)', () => {
  it('stores one archive per volume and writes the manifest last, listing each with its checksum and tar command', async () => {
    const { store, options, trees } = setup();
    const result = await snapshot(options);
    const keys = [...store.objects.keys()].map((k) => k.replace(/^bkt\//, ''));
    expect(keys).toEqual(expect.arrayContaining(trees.map((t) => `backups/h1/${t.slice(1).replace(/\//g, '-')}-20261121T101502Z.tar`)));
    const manifest = manifestOf(store);
    expectValidManifest(manifest);
    expect(manifest.format).toBe(MANIFEST_FORMAT);
    expect(manifest.kind).toBe('snapshot');
    expect(manifest.files.map((v) => v.path)).toEqual(trees);
    expect(manifest.files[0]).toMatchObject({ size: result.volumes[0]!.size, crc32c: result.volumes[0]!.crc32c, end: 'exit' });
    expect(manifest.files[0]!.volume).toMatchObject({ method: 'none', tarCommand: ['tar', '--create', '--file=-', `--directory=${trees[0]}`, '.'] });
    expect(manifest.totals).toEqual({ files: 3, bytes: result.volumes.reduce((n, v) => n + v.size, 0) });
  });

  it('by default stops at the first failed volume, deletes the archives already stored and writes no manifest', async () => {
    const { store, options } = setup(['beta']);
    const err = await snapshot(options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerError);
    expect((err as Error).message).toMatch(/beta: .*Permission denied.*; 1 of 3 volume\(s\) failed \(.*beta\), 1 not attempted; no manifest written/);
    expect(store.objects.size).toBe(0);
  });

  it('with keepGoing attempts every volume, keeps the stored archives, and still writes no manifest', async () => {
    const { store, options } = setup(['beta']);
    const err = await snapshot({ ...options, keepGoing: true }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/1 of 3 volume\(s\) failed .*; no manifest written; 2 archive\(s\) kept/);
    const keys = [...store.objects.keys()];
    expect(keys).toHaveLength(2);
    expect(keys.some((k) => k.includes('manifest'))).toBe(false);
  });

  it('prints the plan on dryRun and stores nothing', async () => {
    const { store, options } = setup();
    const result = await snapshot({ ...options, dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.plan).toHaveLength(3);
    expect(result.manifestKey).toBe('backups/h1/diskless-manifest-20261121T101502Z.json');
    expect(store.objects.size).toBe(0);
  });

  it('refuses to snapshot without root, and names missing tools with their package', async () => {
    const { options } = setup();
    await expect(snapshot({ ...options, method: 'btrfs', uid: 1000 })).rejects.toThrow(/--method btrfs needs root/);
    const noTools = new FakeRunner().on(() => true, { code: 127, stderr: 'not found' });
    const err = await snapshot({ ...options, method: 'lvm', all: true, mounts: [], run: noTools.run, compress: 'zstd' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).hints[0]).toMatch(/apt-get install .*tar lvm2 mount zstd/);
  });

  it('reports an LVM without device-mapper as such', async () => {
    const { options } = setup();
    const runner = new FakeRunner().onPrefix(['lvm', 'version'], { code: 5, stderr: '/dev/mapper/control: open failed: No such device\nFailure to communicate with kernel device-mapper driver.' });
    await expect(snapshot({ ...options, method: 'lvm', all: true, mounts: [], run: runner.run })).rejects.toThrow(/LVM is not usable here: the kernel has no device-mapper/);
  });

  it('refuses bad options before touching anything', async () => {
    const { options, store } = setup();
    await expect(snapshot({ ...options, keyTemplate: '{volume}.tar' })).rejects.toThrow(UsageError);
    await expect(snapshot({ ...options, fillAbortPercent: 100 })).rejects.toThrow(/--fill-abort/);
    await expect(snapshot({ ...options, to: 'http://b/x' })).rejects.toThrow(UsageError);
    expect(store.calls.create + store.calls.put).toBe(0);
  });
});
