import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DISKLESS_BIN, randomStream, runDiskless } from '../support/cli.js';
import { expectValidManifest } from '../support/manifest-schema.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';
import { makeAgeKey, type AgeKey } from '../support/age.js';

const MiB = 1024 * 1024;
/** A secret key itself (the hint that names the form `AGE-SECRET-KEY-1…` is fine). */
const SECRET = /AGE-SECRET-KEY-1[0-9A-Z]{20}/;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('put --encrypt-to and get --identity (age) against Ceph RGW', () => {
  let bucket: string;
  let env: Record<string, string>;
  let endpoint: string[];
  let dir: string;
  let a: AgeKey;
  let b: AgeKey;
  let stranger: AgeKey;
  let plainFile: string;
  let plain: Buffer;

  beforeAll(async () => {
    bucket = await createTestBucket('agecrypt');
    env = cliEnv();
    endpoint = ['--endpoint-url', testS3().endpoint];
    dir = mkdtempSync(join(tmpdir(), 'diskless-age-e2e-'));
    a = makeAgeKey(dir, 'a');
    b = makeAgeKey(dir, 'b');
    stranger = makeAgeKey(dir, 'stranger');
    const { stream } = randomStream(100 * MiB, 'age-100');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(Buffer.from(c));
    plain = Buffer.concat(chunks);
    plainFile = join(dir, 'plain.bin');
    writeFileSync(plainFile, plain);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function getObject(key: string): Promise<Buffer> {
    const got = await makeTestClient().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  it('stores 100 MiB as age ciphertext that age -d, and diskless get --identity, turn back into the input; a wrong identity and a flipped byte fail', async () => {
    const key = 'db/100mib.bin';
    const put = await runDiskless(['put', ...endpoint, '--encrypt-to', a.recipient, `s3://${bucket}/${key}`], { env, stdin: createReadStream(plainFile) });
    expect(put.code, put.stderr).toBe(0);
    expect(put.stderr).toMatch(/age-encrypted for 1 recipient\(s\): 104857600 bytes of input/);

    // The object is not the plaintext: an age file, a little larger.
    const object = await getObject(key);
    expect(object.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(object.length).toBeGreaterThan(plain.length);
    expect(object.length).toBeLessThan(plain.length + plain.length / 1000);
    expect(object.indexOf(plain.subarray(50 * MiB, 50 * MiB + 64))).toBe(-1);

    // The manifest: encrypted, for whom, plaintext size and CRC32C; never a secret key.
    const manifestText = (await getObject(`${key}.diskless.json`)).toString();
    const manifest = JSON.parse(manifestText) as { files: Array<Record<string, unknown>> };
    expectValidManifest(manifest, `${key}.diskless.json`);
    expect(manifest.files[0]!['size']).toBe(object.length);
    expect(manifest.files[0]!['encryption']).toMatchObject({ format: 'age-v1', recipients: [a.recipient], plaintextSize: plain.length });
    for (const text of [manifestText, put.stderr]) expect(text).not.toMatch(SECRET);

    // Restore without diskless: the object as stored (here through `diskless get` without an identity) into age -d.
    const byAge = spawnSync('bash', ['-c', `set -o pipefail; "${DISKLESS_BIN}" get --endpoint-url ${testS3().endpoint} s3://${bucket}/${key} | age -d -i ${a.file} | sha256sum`], { env, encoding: 'utf8' });
    expect(byAge.status, byAge.stderr).toBe(0);
    expect(byAge.stdout.split(' ')[0]).toBe(sha256(plain));
    expect(byAge.stderr).toMatch(/is age-encrypted .* writing the ciphertext as stored/);
    // The same with the object fetched by the SDK (what `aws s3 cp s3://… -` would give).
    expect(sha256(execFileSync('age', ['-d', '-i', a.file], { input: object, maxBuffer: 200 * MiB }))).toBe(sha256(plain));

    const got = await runDiskless(['get', ...endpoint, '--identity', a.file, `s3://${bucket}/${key}`], { env });
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdoutBytes).toBe(plain.length);
    expect(got.stdoutSha256).toBe(sha256(plain));
    expect(got.stderr).toMatch(/decrypted to 104857600 bytes/);

    // A wrong identity: exit 7 before anything is written, naming the recipient that can decrypt.
    const wrong = await runDiskless(['get', ...endpoint, '--identity', stranger.file, `s3://${bucket}/${key}`], { env });
    expect(wrong.code, wrong.stderr).toBe(7);
    expect(wrong.stdoutBytes).toBe(0);
    expect(wrong.stderr).toContain(`none of the --identity keys given can decrypt it: it is encrypted to ${a.recipient}`);
    expect(wrong.stderr).not.toMatch(SECRET);

    // A flipped byte in the middle of the object: decryption fails (exit 7), and what was written is only
    // authenticated plaintext before the damaged chunk, never a wrong byte.
    const damaged = Buffer.from(object);
    damaged[Math.floor(damaged.length / 2)]! ^= 0x40;
    await makeTestClient().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: damaged }));
    const bad = await runDiskless(['get', ...endpoint, '--identity', a.file, `s3://${bucket}/${key}`], { env });
    expect(bad.code, bad.stderr).toBe(7);
    expect(bad.stderr).toMatch(/decryption failed: chunk \d+ does not authenticate/);
    expect(bad.stdoutBytes).toBeLessThan(plain.length / 2 + 1);
    expect(bad.stdoutSha256).toBe(sha256(plain.subarray(0, bad.stdoutBytes)));
    expect(spawnSync('age', ['-d', '-i', a.file], { input: damaged, maxBuffer: 200 * MiB }).status).not.toBe(0);
  }, 300_000);

  it('encrypts for two recipients (--encrypt-to and --recipients-file): either identity decrypts, with diskless and with age', async () => {
    const key = 'two/recipients.bin';
    const rfile = join(dir, 'recipients.txt');
    writeFileSync(rfile, `# the second key, kept offline\n${b.recipient}\n`);
    const small = plain.subarray(0, 3 * MiB + 17);
    const put = await runDiskless(['put', ...endpoint, '--encrypt-to', a.recipient, '--recipients-file', rfile, `s3://${bucket}/${key}`], { env, stdin: (async function* () { yield small; })() });
    expect(put.code, put.stderr).toBe(0);
    const manifest = JSON.parse((await getObject(`${key}.diskless.json`)).toString()) as { files: Array<{ encryption?: { recipients: string[] } }> };
    expect(manifest.files[0]!.encryption?.recipients).toEqual([a.recipient, b.recipient]);
    const object = await getObject(key);
    for (const k of [a, b]) {
      const got = await runDiskless(['get', ...endpoint, '--identity', k.file, `s3://${bucket}/${key}`], { env });
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdoutSha256).toBe(sha256(small));
      expect(sha256(execFileSync('age', ['-d', '-i', k.file], { input: object, maxBuffer: 20 * MiB }))).toBe(sha256(small));
    }
    // Both identity files given, one of them a stranger's: the matching one is used.
    const both = await runDiskless(['get', ...endpoint, '--identity', stranger.file, '--identity', b.file, `s3://${bucket}/${key}`], { env });
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdoutSha256).toBe(sha256(small));
  });

  it('refuses a bad recipient and a secret key given as a recipient with exit 2, before anything is sent', async () => {
    const badRecipient = await runDiskless(['put', ...endpoint, '--encrypt-to', 'age1notakey', `s3://${bucket}/bad/r`, '--', 'echo', 'hi'], { env });
    expect(badRecipient.code, badRecipient.stderr).toBe(2);
    expect(badRecipient.stderr).toMatch(/--encrypt-to "age1notakey" is not an age X25519 recipient/);
    const secret = await runDiskless(['put', ...endpoint, '--encrypt-to', a.secret, `s3://${bucket}/bad/s`, '--', 'echo', 'hi'], { env });
    expect(secret.code, secret.stderr).toBe(2);
    expect(secret.stderr).toMatch(/is a secret key \(an identity\), not a recipient/);
    expect(secret.stderr).not.toContain(a.secret);
    const noKey = await runDiskless(['get', ...endpoint, '--identity', join(dir, 'recipients.txt'), `s3://${bucket}/two/recipients.bin`], { env });
    expect(noKey.code, noKey.stderr).toBe(2);
    expect(noKey.stderr).toMatch(/holds no age identity/);
  });
});
