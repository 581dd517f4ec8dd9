import { describe, expect, it } from 'vitest';
import { MANIFEST_FORMAT, buildManifest, type ManifestFileInput } from '../../../src/manifest/manifest.js';
import { parseManifest } from '../../../src/manifest/read-manifest.js';
import { redactCommand } from '../../../src/manifest/redact.js';
import { expectValidManifest } from '../../support/manifest-schema.js';

const MiB = 1024 * 1024;
const one = (key: string, size: number): ManifestFileInput['objects'][number] => ({
  bucket: 'b',
  key,
  size,
  etag: 'd41d8cd98f00b204e9800998ecf8427e-2',
  parts: 2,
  partSizes: [5 * MiB, size - 5 * MiB],
  crc32c: '0a0b0c0d',
  writer: 'w1',
});

describe('the diskless-backup/2 manifest', () => {
  it('is built in the same format for put, run, serve and snapshot, and each validates against docs/manifest.schema.json', () => {
    for (const kind of ['put', 'run', 'serve', 'snapshot'] as const) {
      const m = buildManifest({
        kind,
        command: kind === 'serve' || kind === 'snapshot' ? null : ['pg_dump', '-Fc', 'db'],
        exitStatus: kind === 'serve' ? null : 0,
        startedAt: new Date('2026-12-01T10:00:00Z'),
        bucket: 'bkt',
        prefix: kind === 'put' ? 'x/db.dump' : 'x/',
        settings: { storageClass: 'STANDARD_IA', sse: 'AES256' },
        ...(kind === 'run' ? { maxInFlight: 2 } : {}),
        files: [
          { path: 'a.tar', key: 'x/a.tar', size: 6 * MiB, crc32c: '01020304', sha256: 'ab'.repeat(32), objects: [one('x/a.tar', 6 * MiB)], end: 'closed' },
          {
            path: 'big.bin',
            key: 'x/big.bin',
            size: 12 * MiB,
            crc32c: '05060708',
            objects: [one('x/big.bin', 6 * MiB), one('x/big.bin.diskless-cont-0001', 6 * MiB)],
            end: 'exit',
            ...(kind === 'snapshot' ? { volume: { volume: '/srv', method: 'none', mountpoint: '/srv', fstype: 'ext4', tarCommand: ['tar'], snapshot: {}, elapsedMs: 5 } } : {}),
          },
        ],
      });
      expectValidManifest(m, kind);
      expect(m).toMatchObject({ format: MANIFEST_FORMAT, kind, totals: { files: 2, bytes: 18 * MiB } });
      expect(m.files[1]!.chain!.map((o) => o.key)).toEqual(['x/big.bin', 'x/big.bin.diskless-cont-0001']);
      expect(m.files[0]).toMatchObject({ storageClass: 'STANDARD_IA', sse: 'AES256', end: 'closed', sha256: 'ab'.repeat(32) });
    }
  });

  it('records an age-encrypted file (format, recipients, plaintext size and CRC32C) in a form the schema accepts, and refuses other recipients', () => {
    const encryption = { format: 'age-v1' as const, recipients: ['age1t2hdyknmcpx2uwzaywpdd7xzefpmurdq7zql0h76xsg6khqurccsmalqk0'], plaintextSize: 6 * MiB - 1600, plaintextCrc32c: '0badf00d' };
    const m = buildManifest({
      kind: 'run',
      command: ['pg_dump'],
      exitStatus: 0,
      startedAt: new Date('2026-12-01T10:00:00Z'),
      bucket: 'bkt',
      prefix: 'x/',
      files: [{ path: 'a', key: 'x/a', size: 6 * MiB, crc32c: '01020304', objects: [one('x/a', 6 * MiB)], end: 'closed', encryption }],
    });
    expectValidManifest(m, 'encrypted');
    expect(m.files[0]!.encryption).toEqual(encryption);
    const bad = { ...m, files: [{ ...m.files[0]!, encryption: { ...encryption, recipients: ['AGE-SECRET-KEY-1QQQ'] } }] };
    expect(() => expectValidManifest(bad, 'a secret key as recipient')).toThrow();
  });

  it('reads the older run and snapshot formats as diskless-backup/2, so existing backups still list', () => {
    const runV1 = {
      format: 'diskless-manifest/1', tool: { name: 'diskless', version: '0.1.0' }, mode: 'run', command: ['tar'], exitStatus: 0, host: 'h',
      startedAt: '2026-11-01T00:00:00.000Z', endedAt: '2026-11-01T00:01:00.000Z', bucket: 'bkt', prefix: 'p/',
      totals: { files: 1, bytes: 3, maxInFlight: 1 },
      files: [{ path: 'a', key: 'p/a', size: 3, crc32c: '00000001', etag: '900150983cd24fb0d6963f7d28e17f72', parts: 1, partSizes: [3] }],
    };
    const r = parseManifest(JSON.stringify(runV1), 'run');
    expectValidManifest(r, 'run v1');
    expect(r).toMatchObject({ kind: 'run', files: [{ key: 'p/a', end: 'unknown' }] });

    const snapV1 = {
      format: 'diskless-snapshot-manifest/1', tool: { name: 'diskless', version: '0.1.0' }, mode: 'snapshot', host: 'h',
      startedAt: '2026-11-01T00:00:00.000Z', endedAt: '2026-11-01T00:01:00.000Z', bucket: 'bkt', prefix: 'p/', totals: { volumes: 1, bytes: 3 },
      volumes: [{ volume: 'vg0/data', method: 'lvm', vg: 'vg0', lv: 'data', mountpoint: '/data', fstype: 'ext4', key: 'p/h/data.tar', size: 3, crc32c: '00000001',
        etag: '900150983cd24fb0d6963f7d28e17f72', parts: 1, partSizes: [3], tarCommand: ['tar'], snapshot: { name: 's' }, elapsedMs: 9 }],
    };
    const s = parseManifest(JSON.stringify(snapV1), 'snapshot');
    expectValidManifest(s, 'snapshot v1');
    expect(s).toMatchObject({ kind: 'snapshot', totals: { files: 1, bytes: 3 }, files: [{ path: 'vg0/data', key: 'p/h/data.tar', volume: { vg: 'vg0', method: 'lvm' } }] });
  });

  it('rejects a document that is no manifest, naming where it came from', () => {
    expect(() => parseManifest('{"format":"x","files":[]}', 's3://b/k')).toThrow(/s3:\/\/b\/k has format "x"/);
    expect(() => parseManifest('nope', 's3://b/k')).toThrow(/not valid JSON/);
  });
});

describe('redactCommand', () => {
  it('replaces passwords given as arguments and keeps everything else', () => {
    expect(redactCommand(['mysqldump', '-uroot', '-psecret', '--all-databases'])).toEqual(['mysqldump', '-uroot', '-p***', '--all-databases']);
    expect(redactCommand(['tool', '--password=hunter2', '--secret-key', 'abc', '-v'])).toEqual(['tool', '--password=***', '--secret-key', '***', '-v']);
    expect(redactCommand(['pg_dump', 'postgres://u:pw@db/x', '-d', 'host=h password=pw dbname=x'])).toEqual(['pg_dump', 'postgres://u:***@db/x', '-d', 'host=h password=*** dbname=x']);
    expect(redactCommand(['bash', '-c', 'set -o pipefail; mysqldump -uroot -psecret db | gzip'])).toEqual(['bash', '-c', 'set -o pipefail; mysqldump -uroot -p*** db | gzip']);
    expect(redactCommand(['tar', '-cpf', '-', '/srv'])).toEqual(['tar', '-cpf', '-', '/srv']);
  });
});
