// `diskless snapshot --all` with real LVM (classic and thin snapshots of ext4 and xfs, mounted and being written to),
// which needs device-mapper: run inside a Linux guest by test/uml/run-lvm-test.sh, against a private Ceph RGW in a
// network namespace the script creates (no traffic leaves it). The guest is User-Mode Linux where it starts (a 1 s probe
// decides) and QEMU with software emulation (TCG) elsewhere, e.g. on Intel hosts with AMX, where UML panics at boot;
// DISKLESS_LVM_VM=uml|tcg forces one. Both run test/uml/lvm-guest.sh, which checks each archive fetched back with
// `diskless get` against the tree at snapshot time, SIGTERM, SIGKILL + second run, and a too-small classic snapshot; it
// prints GUEST-RESULT. This file only runs the script, shows its logs when it fails, and skips (saying why) only where
// neither guest can start. DISKLESS_LVM_NOTE=FILE: the script's last line (which guest, how long) is written there.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ok } from '../support/snapshot.js';

const SCRIPT = fileURLToPath(new URL('../uml/run-lvm-test.sh', import.meta.url));
const NEEDED = ['lvm', 'thin_check', 'mkfs.xfs', 'setfacl', 'getfattr', 'busybox', 'zstd', 'ip'];
const VMS = ['linux.uml', 'qemu-system-x86_64'];
const INSTALL =
  'apt-get install -y --no-install-recommends user-mode-linux qemu-system-x86 cpio kmod lvm2 thin-provisioning-tools xfsprogs acl attr busybox-static zstd iproute2';
/** run-lvm-test.sh's exit code for "no guest can start on this host". */
const SKIPPED = 77;

describe('diskless snapshot with LVM (in a User-Mode Linux or QEMU TCG guest)', () => {
  it('backs up ext4, xfs, thin ext4 and thin xfs LVs while they are written to, and cleans up after signals and overflow', async (ctx) => {
    const has = (b: string) => ok('sh', ['-c', `command -v ${b}`]);
    const missing = NEEDED.filter((b) => !has(b));
    if (!VMS.some(has)) missing.push(VMS.join(' or '));
    if (missing.length > 0 || process.getuid?.() !== 0) {
      throw new Error(`this test needs root and ${missing.join(', ') || 'nothing else'}: ${INSTALL}`);
    }
    const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // The script has its own timeouts (guest 420 s under UML, 690 s under TCG; RGW start 240 s); this one only guards
    // against a hung script.
    const timer = setTimeout(() => child.kill('SIGTERM'), 720_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    const lines = output.split('\n').filter((l) => !/GSO frames/.test(l));
    const verdict = lines.filter((l) => /LVM-TEST: /.test(l)).pop() ?? `run-lvm-test.sh exited with ${code}, no LVM-TEST line`;
    if (process.env['DISKLESS_LVM_NOTE']) writeFileSync(process.env['DISKLESS_LVM_NOTE'], `${verdict.replace(/^.*LVM-TEST: /, '')}\n`);
    if (code === SKIPPED) {
      console.log(`snapshot-lvm: skipped: ${verdict}`);
      ctx.skip();
    }
    if (code !== 0) console.log(lines.join('\n'));
    else console.log(`snapshot-lvm: ${verdict}`);
    expect(code, lines.slice(-60).join('\n')).toBe(0);
    expect(output).toMatch(/GUEST-RESULT: OK/);
    for (const lv of ['lvext4', 'lvxfs', 'thinext4', 'thinxfs']) {
      expect(output).toMatch(new RegExp(`vg0/${lv}: s3://\\S+: \\d+ entries, same tree as at snapshot time`));
    }
    expect(output).toMatch(/SIGTERM mid-run: exit 143, snapshot removed/);
    expect(output).toMatch(/the second run removed it and succeeded/);
    expect(output).toMatch(/too-small snapshot: .*exit 5, nothing stored, snapshot removed/);
  }, 750_000);
});
