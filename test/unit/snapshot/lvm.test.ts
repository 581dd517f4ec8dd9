import { describe, expect, it } from 'vitest';
import { isInternal, isInvalidSnapshot, isSnapshot, isThin, listLvs, parseLvsReport, parseVgsReport } from '../../../src/snapshot/lvm.js';
import { FakeRunner } from './fake-runner.js';

// Shaped like lvm2 2.03.16's `lvs --reportformat json --units b --nosuffix -a -o …` in the UML guest.
const REPORT = `  {
      "report": [
          {
              "lv": [
                  {"vg_name":"vg0", "lv_name":"lvext4", "lv_path":"/dev/vg0/lvext4", "lv_dm_path":"/dev/mapper/vg0-lvext4", "lv_attr":"owi-aos---", "lv_size":"335544320", "origin":"", "pool_lv":"", "data_percent":"", "metadata_percent":"", "segtype":"linear", "lv_tags":"", "lv_kernel_major":"254", "lv_kernel_minor":"0"},
                  {"vg_name":"vg0", "lv_name":"diskless-snap-77-lvext4", "lv_path":"/dev/vg0/diskless-snap-77-lvext4", "lv_dm_path":"/dev/mapper/vg0-diskless--snap--77--lvext4", "lv_attr":"swi-a-s---", "lv_size":"67108864", "origin":"lvext4", "pool_lv":"", "data_percent":"12.50", "metadata_percent":"", "segtype":"linear", "lv_tags":"diskless-snapshot", "lv_kernel_major":"254", "lv_kernel_minor":"9"},
                  {"vg_name":"vg0", "lv_name":"pool", "lv_path":"", "lv_dm_path":"/dev/mapper/vg0-pool", "lv_attr":"twi-aotz--", "lv_size":"536870912", "origin":"", "pool_lv":"", "data_percent":"3.21", "metadata_percent":"10.94", "segtype":"thin-pool", "lv_tags":"", "lv_kernel_major":"254", "lv_kernel_minor":"4"},
                  {"vg_name":"vg0", "lv_name":"[pool_tdata]", "lv_path":"", "lv_dm_path":"/dev/mapper/vg0-pool_tdata", "lv_attr":"Twi-ao----", "lv_size":"536870912", "origin":"", "pool_lv":"", "data_percent":"", "metadata_percent":"", "segtype":"linear", "lv_tags":"", "lv_kernel_major":"254", "lv_kernel_minor":"3"},
                  {"vg_name":"vg0", "lv_name":"thinext4", "lv_path":"/dev/vg0/thinext4", "lv_dm_path":"/dev/mapper/vg0-thinext4", "lv_attr":"Vwi-aotz--", "lv_size":"1073741824", "origin":"", "pool_lv":"pool", "data_percent":"2.40", "metadata_percent":"", "segtype":"thin", "lv_tags":"", "lv_kernel_major":"254", "lv_kernel_minor":"5"},
                  {"vg_name":"vg0", "lv_name":"snapthin", "lv_path":"/dev/vg0/snapthin", "lv_dm_path":"/dev/mapper/vg0-snapthin", "lv_attr":"Vwi---tz-k", "lv_size":"1073741824", "origin":"thinext4", "pool_lv":"pool", "data_percent":"", "metadata_percent":"", "segtype":"thin", "lv_tags":"", "lv_kernel_major":"-1", "lv_kernel_minor":"-1"},
                  {"vg_name":"vg0", "lv_name":"dead", "lv_path":"/dev/vg0/dead", "lv_dm_path":"/dev/mapper/vg0-dead", "lv_attr":"swi-I-s---", "lv_size":"8388608", "origin":"lvext4", "pool_lv":"", "data_percent":"100.00", "metadata_percent":"", "segtype":"linear", "lv_tags":"", "lv_kernel_major":"254", "lv_kernel_minor":"10"}
              ]
          }
      ]
  }
`;

describe('LVM reports', () => {
  it('reads every field of an lvs JSON report as typed values', () => {
    const [origin, snap] = parseLvsReport(REPORT);
    expect(origin).toEqual({
      vg: 'vg0', name: 'lvext4', path: '/dev/vg0/lvext4', dmPath: '/dev/mapper/vg0-lvext4', attr: 'owi-aos---', size: 335544320,
      origin: '', pool: '', dataPercent: null, metadataPercent: null, segtype: 'linear', tags: [], major: 254, minor: 0,
    });
    expect(snap).toMatchObject({ origin: 'lvext4', dataPercent: 12.5, tags: ['diskless-snapshot'], minor: 9 });
  });

  it('reports an inactive LV without a device number', () => {
    const thinSnap = parseLvsReport(REPORT).find((l) => l.name === 'snapthin')!;
    expect(thinSnap.major).toBeNull();
    expect(thinSnap.minor).toBeNull();
  });

  it('tells classic and thin snapshots, thin volumes, pools and hidden LVs apart', () => {
    const by = Object.fromEntries(parseLvsReport(REPORT).map((l) => [l.name, l]));
    expect(isSnapshot(by['diskless-snap-77-lvext4']!)).toBe(true);
    expect(isSnapshot(by['snapthin']!)).toBe(true);
    expect(isSnapshot(by['lvext4']!)).toBe(false);
    expect(isSnapshot(by['thinext4']!)).toBe(false);
    expect(isThin(by['thinext4']!)).toBe(true);
    expect(isThin(by['lvext4']!)).toBe(false);
    expect(isInternal(by['pool']!)).toBe(true);
    expect(isInternal(by['[pool_tdata]']!)).toBe(true);
    expect(isInternal(by['thinext4']!)).toBe(false);
  });

  it('recognises a classic snapshot the kernel invalidated after it overflowed', () => {
    const by = Object.fromEntries(parseLvsReport(REPORT).map((l) => [l.name, l]));
    expect(isInvalidSnapshot(by['dead']!)).toBe(true);
    expect(isInvalidSnapshot(by['diskless-snap-77-lvext4']!)).toBe(false);
  });

  it('reads a vgs report with sizes and free extents', () => {
    const json = JSON.stringify({ report: [{ vg: [{ vg_name: 'vg0', vg_size: '4290772992', vg_free: '2004877312', vg_extent_size: '4194304', vg_free_count: '478' }] }] });
    expect(parseVgsReport(json)).toEqual([{ name: 'vg0', size: 4290772992, free: 2004877312, extentSize: 4194304, freeExtents: 478 }]);
  });

  it('runs lvs with an argument array, JSON output and byte units', async () => {
    const runner = new FakeRunner().onPrefix(['lvs'], { stdout: REPORT });
    await listLvs(runner.run, ['vg0'], { all: true });
    expect(runner.calls[0]!.slice(0, 7)).toEqual(['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-a']);
    expect(runner.calls[0]!.at(-1)).toBe('vg0');
  });

  it('fails with the tool\'s message when lvs fails', async () => {
    const runner = new FakeRunner().onPrefix(['lvs'], { code: 5, stderr: '  Volume group "nope" not found\n' });
    await expect(listLvs(runner.run, ['nope'])).rejects.toThrow(/exited with status 5: Volume group "nope" not found/);
  });

  it('rejects a report that is not JSON with a clear message', () => {
    expect(() => parseLvsReport('  WARNING: something\n')).toThrow(/cannot read the JSON report of lvs/);
  });
});
