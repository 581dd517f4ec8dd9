// Client-side encryption (age) in `run`, `serve` and `snapshot`: a pg_dump -Fd -j 4 under `diskless run --encrypt-to` restores
// with `diskless restore --identity` and pg_restore to the same data; a snapshot archive with --encrypt-to restores by hand
// with `age -d | zstd -d | tar -x`, without diskless; `run --from --identity` reads an encrypted backup back with no local copy,
// seeks included. put/get: encryption.test.ts.
import { execFileSync, spawn } from 'node:child_process';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, runDiskless } from '../support/cli.js';
import { expectValidManifest } from '../support/manifest-schema.js';
import { exec, fingerprint, loadFixture, pgTool, startPostgres, type PostgresServer } from '../support/postgres.js';
import { objectBytes, regularFiles, sha256, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';
import { makeAgeKey, type AgeKey } from '../support/age.js';
import { crc32c, crc32cToHex } from '../../src/checksum/crc32c.js';

interface ManifestJson {
  files: Array<{ path: string; key: string; size: number; encryption?: { format: string; recipients: string[]; plaintextSize: number; plaintextCrc32c: string } }>;
}

let bucket: string;
let work: string;
let key: AgeKey;
let other: AgeKey;
const endpoint = () => ['--endpoint-url', testS3().endpoint];

beforeAll(async () => {
  bucket = await createTestBucket('agerun');
  work = mkdtempSync(join(tmpdir(), 'diskless-age-run-'));
  key = makeAgeKey(work, 'backup');
  other = makeAgeKey(work, 'other');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `diskless run ARGS --dir <fresh 1 MiB tmpfs> -- command(dir)`: nothing may land in the directory. */
async function inTinyDir(args: string[], command: (dir: string) => string[], env: Record<string, string> = {}) {
  const vdir = tinyTmpfs();
  try {
    const r = await runDiskless(['run', ...endpoint(), ...args, '--dir', vdir.dir, '--', ...command(vdir.dir)], { env: { ...cliEnv(), ...env }, timeoutMs: 170_000 });
    expect(regularFiles(vdir.dir)).toEqual([]);
    return r;
  } finally {
    vdir.dispose();
  }
}

describe('snapshot --encrypt-to', () => {
  it('stores a zstd tar archive as age ciphertext that age -d | zstd -d | tar -x turns back into the tree, and that diskless restore --identity restores', async () => {
    const src = join(work, 'tree');
    mkdirSync(join(src, 'etc', 'app'), { recursive: true });
    writeFileSync(join(src, 'etc', 'app', 'config.ini'), 'secret=very\n');
    writeFileSync(join(src, 'data.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 0x5a));
    const r = await runDiskless(
      ['snapshot', ...endpoint(), '--to', `s3://${bucket}/hosts/`, '--method', 'none', '--mount', src, '--compress', 'zstd', '--work-dir', join(work, 'snapwork'), '--encrypt-to', key.recipient],
      { env: cliEnv(), timeoutMs: 110_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const url = /: stored (s3:\/\/\S+): /.exec(r.stderr)?.[1];
    const manifestUrl = /manifest (s3:\/\/\S+diskless-manifest-\d{8}T\d{6}Z\.json)/.exec(r.stderr)?.[1];
    expect(url, r.stderr).toBeDefined();
    expect(manifestUrl, r.stderr).toBeDefined();
    const archiveKey = url!.slice(`s3://${bucket}/`.length);
    const archive = await objectBytes(bucket, archiveKey);
    expect(archive.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(archive.includes('secret=very')).toBe(false);

    const manifest = JSON.parse((await objectBytes(bucket, manifestUrl!.slice(`s3://${bucket}/`.length))).toString()) as ManifestJson;
    expectValidManifest(manifest, manifestUrl);
    expect(manifest.files[0]!.encryption).toMatchObject({ format: 'age-v1', recipients: [key.recipient] });
    expect(manifest.files[0]!.size).toBe(archive.length);

    // Without diskless: age -d | zstd -d | tar -x.
    const byHand = join(work, 'by-hand');
    mkdirSync(byHand);
    execFileSync('bash', ['-c', `set -o pipefail; age -d -i ${key.file} | zstd -d | tar -x -C ${byHand}`], { input: archive });
    expect(readFileSync(join(byHand, 'etc', 'app', 'config.ini'), 'utf8')).toBe('secret=very\n');
    expect(sha256(readFileSync(join(byHand, 'data.bin')))).toBe(sha256(readFileSync(join(src, 'data.bin'))));

    // diskless restore: without an identity and with a wrong one, exit 7 naming the recipient; with it, the tree.
    const none = await runDiskless(['restore', ...endpoint(), manifestUrl!, join(work, 'r-none')], { env: cliEnv() });
    expect(none.code, none.stderr).toBe(7);
    expect(none.stderr).toContain(`is age-encrypted (for ${key.recipient}): pass --identity FILE`);
    const wrong = await runDiskless(['restore', ...endpoint(), '--identity', other.file, manifestUrl!, join(work, 'r-wrong')], { env: cliEnv() });
    expect(wrong.code, wrong.stderr).toBe(7);
    expect(wrong.stderr).toContain(`it is encrypted to ${key.recipient}`);
    const dir = join(work, 'r-ok');
    const ok = await runDiskless(['restore', ...endpoint(), '--identity', key.file, manifestUrl!, dir], { env: cliEnv(), timeoutMs: 110_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(dir, 'etc', 'app', 'config.ini'), 'utf8')).toBe('secret=very\n');
    expect(sha256(readFileSync(join(dir, 'data.bin')))).toBe(sha256(readFileSync(join(src, 'data.bin'))));
  });
});

describe('run --encrypt-to with renames and random-access files', () => {
  it('encrypts a file renamed after close (mkstemp + os.replace), a random-access file (sqlite3 .backup) and shows the program the plaintext size in stat; restore --identity brings them back, and a flipped byte is a CHECKSUM MISMATCH (exit 6)', async () => {
    const db = join(work, 'db.sqlite');
    execFileSync('sqlite3', [db], { input: 'create table t(x, y); with recursive c(i) as (select 1 union all select i+1 from c where i < 5000) insert into t select i, hex(randomblob(20)) from c;' });
    const script =
      `sqlite3 ${db} ".backup $OUT/copy.db" && python3 -c 'import os, sys, tempfile\n` +
      `fd, p = tempfile.mkstemp(dir=sys.argv[1]); os.write(fd, b"atomic " * 10000); os.close(fd)\n` +
      `print("size", os.stat(p).st_size)\n` +
      `os.replace(p, os.path.join(sys.argv[1], "state.txt"))\n` +
      `print("renamed", os.stat(os.path.join(sys.argv[1], "state.txt")).st_size)' "$OUT"`;
    const vdir = tinyTmpfs();
    let r;
    try {
      r = await runDiskless(['run', ...endpoint(), '--to', `s3://${bucket}/progs/`, '--dir', vdir.dir, '--encrypt-to', key.recipient, '--', 'sh', '-c', script], {
        env: { ...cliEnv(), OUT: vdir.dir },
        timeoutMs: 110_000,
      });
    } finally {
      vdir.dispose();
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toBe('size 70000\nrenamed 70000\n');
    const manifest = JSON.parse((await objectBytes(bucket, 'progs/diskless-manifest.json')).toString()) as ManifestJson;
    expect(manifest.files.map((f) => f.path).sort()).toEqual(['copy.db', 'state.txt']);
    for (const f of manifest.files) {
      expect(f.encryption, f.path).toMatchObject({ recipients: [key.recipient] });
      expect((await objectBytes(bucket, f.key)).subarray(0, 22).toString(), f.path).toBe('age-encryption.org/v1\n');
    }
    const dir = join(work, 'progs-restore');
    const restored = await runDiskless(['restore', ...endpoint(), '--identity', key.file, `s3://${bucket}/progs/`, dir], { env: cliEnv() });
    expect(restored.code, restored.stderr).toBe(0);
    expect(readFileSync(join(dir, 'state.txt'), 'utf8')).toBe('atomic '.repeat(10000));
    const rows = (p: string) => execFileSync('sqlite3', [p, 'pragma integrity_check; select count(*), sum(x), group_concat(y) from t;']).toString();
    expect(rows(join(dir, 'copy.db'))).toBe(rows(db));

    // A byte flipped in the first chunk of state.txt, the manifest made to name the new object (so only decryption can
    // tell): restore says CHECKSUM MISMATCH with the reason, exits 6, never writes state.txt, and restores copy.db.
    const state = manifest.files.find((f) => f.path === 'state.txt')!;
    const damaged = await objectBytes(bucket, state.key);
    damaged[damaged.indexOf('\n--- ') + 80]! ^= 0x01;
    const put = await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: state.key, Body: damaged }));
    const stored = JSON.parse((await objectBytes(bucket, 'progs/diskless-manifest.json')).toString()) as { files: Array<{ path: string; etag: string }> };
    stored.files.find((f) => f.path === 'state.txt')!.etag = put.ETag!.replace(/"/g, '');
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'progs/diskless-manifest.json', Body: JSON.stringify(stored) }));
    const dir2 = join(work, 'progs-restore-damaged');
    const bad = await runDiskless(['restore', ...endpoint(), '--identity', key.file, `s3://${bucket}/progs/`, dir2], { env: cliEnv() });
    expect(bad.code, bad.stderr).toBe(6);
    expect(bad.stderr).toMatch(/CHECKSUM MISMATCH {2}state\.txt: progs\/state\.txt: decryption failed: chunk 0 does not authenticate/);
    expect(existsSync(join(dir2, 'state.txt'))).toBe(false);
    expect(rows(join(dir2, 'copy.db'))).toBe(rows(db));
  });
});

describe('serve --recipients-file', () => {
  it('encrypts what a program started from another shell writes; age -d of the object gives the bytes it wrote', async () => {
    const rfile = join(work, 'serve-recipients.txt');
    writeFileSync(rfile, `${key.recipient}\n`);
    const vdir = tinyTmpfs();
    try {
      const serve = spawn(DISKLESS_BIN, ['serve', ...endpoint(), '--to', `s3://${bucket}/serve/`, '--dir', vdir.dir, '--recipients-file', rfile], { env: cliEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      serve.stderr.on('data', (c) => (stderr += c));
      await new Promise<void>((resolve, reject) => {
        serve.stdout.on('data', (c) => {
          stdout += c;
          if (stdout.includes('DISKLESS_TOKEN')) resolve();
        });
        serve.once('exit', () => reject(new Error(`serve exited early: ${stderr}`)));
      });
      // The redirection in a child shell, which starts with the shim preloaded (this shell sources the lines too late).
      execFileSync('bash', ['-c', `${stdout}\nsh -c 'seq 1 200000 > "$1"' sh "${vdir.dir}/numbers.txt"`], { env: cliEnv() });
      const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
      serve.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
    } finally {
      vdir.dispose();
    }
    const object = await objectBytes(bucket, 'serve/numbers.txt');
    expect(object.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(sha256(execFileSync('age', ['-d', '-i', key.file], { input: object, maxBuffer: 16 << 20 }))).toBe(sha256(execFileSync('seq', ['1', '200000'], { maxBuffer: 16 << 20 })));
    const manifest = JSON.parse((await objectBytes(bucket, 'serve/diskless-manifest.json')).toString()) as ManifestJson;
    expect(manifest.files[0]!.encryption).toMatchObject({ recipients: [key.recipient], plaintextSize: execFileSync('seq', ['1', '200000'], { maxBuffer: 16 << 20 }).length });
  });
});

describe('run --from --identity', () => {
  it('shows an encrypted backup with its plaintext sizes and decrypts it as the program reads, seeks included (a seek starts at the age chunk that holds the offset); a damaged chunk fails the run (exit 6) naming the object', async () => {
    // 7.8 age chunks of a known pattern, and a copy of it whose object gets a byte flipped in chunk 3.
    const gen = `python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 2000)'`;
    const stored = await inTinyDir(['--to', `s3://${bucket}/seek/`, '--encrypt-to', key.recipient], (d) => ['sh', '-c', `${gen} > ${d}/pat.bin && ${gen} > ${d}/bad.bin`]);
    expect(stored.code, stored.stderr).toBe(0);
    const pattern = Buffer.alloc(512_000);
    for (let i = 0; i < pattern.length; i++) pattern[i] = i % 256;
    const script = [
      'import hashlib, os, sys',
      'p = sys.argv[1]',
      'out = [str(os.stat(p).st_size)]',
      'with open(p, "rb") as f:',
      '    out.append(str(os.fstat(f.fileno()).st_size))',
      '    for at in (200_000, 65_535, 65_536, 5, 511_000, 131_072 + 16):',
      '        f.seek(at); out.append(hashlib.sha256(f.read(1000)).hexdigest())',
      '    f.seek(-100, os.SEEK_END); out.append(hashlib.sha256(f.read()).hexdigest()); out.append(str(f.tell()))',
      'print(" ".join(out))',
    ].join('\n');
    const r = await inTinyDir(['--from', `s3://${bucket}/seek/`, '--identity', key.file], (d) => ['sh', '-c', `python3 -c '${script}' ${d}/pat.bin && sha256sum < ${d}/pat.bin`]);
    expect(r.code, r.stderr).toBe(0);
    const [py, whole] = r.stdout!.toString().trim().split('\n');
    const want = ['512000', '512000', ...[200_000, 65_535, 65_536, 5, 511_000, 131_088].map((at) => sha256(pattern.subarray(at, at + 1000)))];
    want.push(sha256(pattern.subarray(pattern.length - 100)), '512000');
    expect(py).toBe(want.join(' '));
    expect(whole!.split(' ')[0]).toBe(sha256(pattern));

    const manifest = JSON.parse((await objectBytes(bucket, 'seek/diskless-manifest.json')).toString()) as ManifestJson & { files: Array<{ etag: string }> };
    const bad = manifest.files.find((f) => f.path === 'bad.bin')!;
    const damaged = await objectBytes(bucket, bad.key);
    const payload = damaged.indexOf('\n--- ') + 1 + damaged.subarray(damaged.indexOf('\n--- ') + 1).indexOf('\n') + 1 + 16;
    damaged[payload + 3 * (65_536 + 16) + 100]! ^= 0x01;
    const put = await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: bad.key, Body: damaged }));
    // The manifest made to name the new object and its ciphertext's CRC32C (so only decryption can tell), as a rewrite in place would.
    Object.assign(manifest.files.find((f) => f.path === 'bad.bin')!, { etag: put.ETag!.replace(/"/g, ''), crc32c: crc32cToHex(crc32c(damaged)) });
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'seek/diskless-manifest.json', Body: JSON.stringify(manifest) }));
    const out = join(work, 'bad.out');
    const failed = await inTinyDir(['--from', `s3://${bucket}/seek/`, '--identity', key.file], (d) => ['sh', '-c', `cat ${d}/bad.bin > ${out}; echo "cat=$?"`]);
    expect(failed.code, failed.stderr).toBe(6);
    expect(failed.stderr).toContain(`s3://${bucket}/${bad.key}`);
    expect(failed.stderr).toMatch(/chunk 3 does not authenticate/);
    expect(failed.stdout!.toString()).toContain('cat=1');
    expect(readFileSync(out).length, 'nothing past the last authenticated chunk').toBeLessThanOrEqual(3 * 65_536);
  });
});

describe('run --encrypt-to with pg_dump -Fd -j 4', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
    await loadFixture(server, 'src');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('stores every file of the directory archive as its own age stream; verify --deep without an identity checks ciphertext only and says so, with it the pg_dump layout; restore --identity and pg_restore -j 4 give the same data', async () => {
    const source = await fingerprint(server, 'src');
    const vdir = tinyTmpfs();
    let r;
    try {
      r = await runDiskless(
        ['run', ...endpoint(), '--to', `s3://${bucket}/pg/`, '--dir', vdir.dir, '--encrypt-to', key.recipient, '--', pgTool('pg_dump'), '-d', 'src', '-Fd', '-j', '4', '-f', join(vdir.dir, 'db')],
        { env: { ...cliEnv(), ...server.env }, timeoutMs: 110_000 },
      );
      expect(regularFiles(vdir.dir)).toEqual([]);
    } finally {
      vdir.dispose();
    }
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse((await objectBytes(bucket, 'pg/diskless-manifest.json')).toString()) as ManifestJson;
    expectValidManifest(manifest, 'pg/diskless-manifest.json');
    expect(manifest.files.length).toBeGreaterThanOrEqual(3);
    for (const f of manifest.files) {
      expect(f.encryption, f.path).toMatchObject({ format: 'age-v1', recipients: [key.recipient] });
      const object = await objectBytes(bucket, f.key);
      expect(object.subarray(0, 22).toString(), f.path).toBe('age-encryption.org/v1\n');
      expect(object.length, f.path).toBe(f.size);
    }

    const shallowDeep = await runDiskless(['verify', '--deep', '--no-record', ...endpoint(), `s3://${bucket}/pg/`], { env: cliEnv(), timeoutMs: 110_000 });
    expect(shallowDeep.code, shallowDeep.stderr).toBe(0);
    expect(shallowDeep.stdout!.toString()).toMatch(/note {2}db\/toc\.dat: age-encrypted: the ciphertext's checksums are checked; not decrypted \(no --identity\)/);
    const deep = await runDiskless(['verify', '--deep', '--no-record', ...endpoint(), '--identity', key.file, `s3://${bucket}/pg/`], { env: cliEnv(), timeoutMs: 110_000 });
    expect(deep.code, deep.stderr).toBe(0);
    expect(deep.stdout!.toString()).toMatch(/formats: .*pg_dump directory/);
    const wrong = await runDiskless(['verify', '--deep', '--no-record', ...endpoint(), '--identity', other.file, `s3://${bucket}/pg/`], { env: cliEnv() });
    expect(wrong.code, wrong.stderr).toBe(7);
    expect(wrong.stderr).toContain(`it is encrypted to ${key.recipient}`);

    const restoreDir = join(work, 'pg-restore');
    const restored = await runDiskless(['restore', ...endpoint(), '--identity', key.file, `s3://${bucket}/pg/`, restoreDir], { env: cliEnv(), timeoutMs: 110_000 });
    expect(restored.code, restored.stderr).toBe(0);
    for (const f of manifest.files) expect(readFileSync(join(restoreDir, f.path)).length, f.path).toBe(f.encryption!.plaintextSize);
    await server.psql('CREATE DATABASE restored_age');
    await exec(pgTool('pg_restore'), ['--exit-on-error', '-j', '4', '-d', 'restored_age', join(restoreDir, 'db')], { env: server.env, timeoutMs: 120_000 });
    expect(await fingerprint(server, 'restored_age')).toEqual(source);
  });
  it('run --from --identity restores an encrypted pg_dump -Fd -j 4 backup with pg_restore -j 4, read and decrypted straight from S3; without --identity, or with another key, it exits 7 naming the recipient before the command starts', async () => {
    const source = await fingerprint(server, 'src');
    const dumped = await inTinyDir(['--to', `s3://${bucket}/pgfrom/`, '--encrypt-to', key.recipient], (d) => [pgTool('pg_dump'), '-d', 'src', '-Fd', '-j', '4', '-f', `${d}/db`], server.env);
    expect(dumped.code, dumped.stderr).toBe(0);
    const restore = (db: string) => (d: string) => [pgTool('pg_restore'), '--exit-on-error', '-j', '4', '-d', db, `${d}/db`];
    const none = await inTinyDir(['--from', `s3://${bucket}/pgfrom/`], restore('nowhere'), server.env);
    expect(none.code, none.stderr).toBe(7);
    expect(none.stderr).toContain(`is age-encrypted (for ${key.recipient}): pass --identity FILE`);
    const wrong = await inTinyDir(['--from', `s3://${bucket}/pgfrom/`, '--identity', other.file], restore('nowhere'), server.env);
    expect(wrong.code, wrong.stderr).toBe(7);
    expect(wrong.stderr).toContain(`it is encrypted to ${key.recipient}`);
    expect(wrong.stderr, 'the command never started').not.toMatch(/pg_restore:/);
    await server.psql('CREATE DATABASE restored_from_age');
    const r = await inTinyDir(['--from', `s3://${bucket}/pgfrom/`, '--identity', key.file], restore('restored_from_age'), server.env);
    expect(r.code, r.stderr).toBe(0);
    expect(await fingerprint(server, 'restored_from_age')).toEqual(source);
  });
});
