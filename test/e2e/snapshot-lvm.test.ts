// `diskless snapshot --all` with real LVM (classic and thin snapshots of ext4 and xfs, mounted and being written to),
// which needs device-mapper: run inside User-Mode Linux by test/uml/run-lvm-test.sh, against a private Ceph RGW in a
// network namespace the script creates (no traffic leaves it). The guest (test/uml/lvm-guest.sh) checks each archive
// fetched back with `diskless get` against the tree at snapshot time, SIGTERM, SIGKILL + second run, and a too-small
// classic snapshot; it prints GUEST-RESULT. This file only runs the script and shows its logs when it fails.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ok } from '../support/snapshot.js';

const SCRIPT = fileURLToPath(new URL('../uml/run-lvm-test.sh', import.meta.url));
const NEEDED = ['linux.uml', 'lvm', 'thin_check', 'mkfs.xfs', 'setfacl', 'getfattr', 'busybox', 'zstd', 'ip'];
const INSTALL = 'apt-get install -y --no-install-recommends user-mode-linux lvm2 thin-provisioning-tools xfsprogs acl attr busybox-static zstd iproute2';

describe('diskless snapshot with LVM (User-Mode Linux)', () => {
  it('backs up ext4, xfs, thin ext4 and thin xfs LVs while they are written to, and cleans up after signals and overflow', async () => {
    const missing = NEEDED.filter((b) => !ok('sh', ['-c', `command -v ${b}`]));
    if (missing.length > 0 || process.getuid?.() !== 0) {
      throw new Error(`this test needs root and ${missing.join(', ') || 'nothing else'}: ${INSTALL}`);
    }
    const child = spawn('bash', [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TIMEOUT: '480' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // The script has its own timeouts (UML 480 s, RGW start 240 s); this one only guards against a hung script.
    const timer = setTimeout(() => child.kill('SIGTERM'), 560_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    const lines = output.split('\n').filter((l) => !/GSO frames/.test(l));
    if (code !== 0) console.log(lines.join('\n'));
    expect(code, lines.slice(-60).join('\n')).toBe(0);
    expect(output).toMatch(/GUEST-RESULT: OK/);
    for (const lv of ['lvext4', 'lvxfs', 'thinext4', 'thinxfs']) {
      expect(output).toMatch(new RegExp(`vg0/${lv}: s3://\\S+: \\d+ entries, same tree as at snapshot time`));
    }
    expect(output).toMatch(/SIGTERM mid-run: exit 143, snapshot removed/);
    expect(output).toMatch(/the second run removed it and succeeded/);
    expect(output).toMatch(/too-small snapshot: .*exit 5, nothing stored, snapshot removed/);
  }, 600_000);
});
