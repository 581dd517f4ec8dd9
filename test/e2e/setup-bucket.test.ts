import {
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDiskless, type CliResult } from '../support/cli.js';
import { cliEnv, createTestBucket, makeTestClient, testS3 } from '../support/s3-test-env.js';

/** `diskless setup-bucket` against RGW: rules read back with GetBucketLifecycleConfiguration, merged with the bucket's. */
describe('diskless setup-bucket', () => {
  let client: S3Client;
  beforeAll(() => {
    client = makeTestClient();
  });
  const setup = (args: string[]): Promise<CliResult> =>
    runDiskless(['setup-bucket', '--endpoint-url', testS3().endpoint, ...args], { env: cliEnv() });
  const rulesOf = async (bucket: string) =>
    (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).Rules ?? [];

  it('adds an abort-incomplete-uploads rule (3 days by default) and keeps the rule the bucket already had', async () => {
    const bucket = await createTestBucket('setup-merge');
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'logs-expiry', Status: 'Enabled', Filter: { Prefix: 'logs/' }, Expiration: { Days: 9 } }] },
      }),
    );
    const r = await setup([`s3://${bucket}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toMatch(/1 added \(diskless-abort-incomplete\), 0 replaced \(-\), 1 of the bucket's own kept \(logs-expiry\)/);
    const rules = await rulesOf(bucket);
    expect(rules.map((x) => x.ID).sort()).toEqual(['diskless-abort-incomplete', 'logs-expiry']);
    expect(rules.find((x) => x.ID === 'logs-expiry')).toMatchObject({ Expiration: { Days: 9 } });
    expect(rules.find((x) => x.ID === 'diskless-abort-incomplete')).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } });

    // Again, with another value: its own rule is replaced, not doubled.
    const again = await setup([`s3://${bucket}`, '--abort-incomplete-days', '5', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout!.toString())).toMatchObject({ applied: true, lifecycle: { replaced: ['diskless-abort-incomplete'], kept: ['logs-expiry'] } });
    const after = await rulesOf(bucket);
    expect(after).toHaveLength(2);
    expect(after.find((x) => x.ID === 'diskless-abort-incomplete')).toMatchObject({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 5 } });
  });

  it('applies transitions and expiry under a prefix, and prints least-privilege policies for that prefix', async () => {
    const bucket = await createTestBucket('setup-age');
    const r = await setup([`s3://${bucket}/db/`, '--transition', 'STANDARD_IA:30', '--expire-after', '365d', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout!.toString());
    const rule = (await rulesOf(bucket)).find((x) => x.ID === 'diskless-age:db/');
    expect(rule).toMatchObject({ Filter: { Prefix: 'db/' }, Transitions: [{ Days: 30, StorageClass: 'STANDARD_IA' }], Expiration: { Days: 365 } });
    const writer = JSON.stringify(out.policies.writer);
    expect(writer).toContain(`arn:aws:s3:::${bucket}/db/*`);
    expect(writer).toContain('s3:PutObject');
    expect(writer).not.toContain('s3:DeleteObjectVersion');
    expect(JSON.stringify(out.policies.pruner)).toContain('s3:DeleteObjectVersion');
  });

  it('--dry-run prints the configuration it would apply and changes nothing', async () => {
    const bucket = await createTestBucket('setup-dry');
    const r = await setup([`s3://${bucket}`, '--dry-run', '--versioning']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout!.toString()).toMatch(/^Would apply to s3:\/\//);
    expect(r.stdout!.toString()).toContain('"DaysAfterInitiation": 3');
    await expect(client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }))).rejects.toMatchObject({ name: 'NoSuchLifecycleConfiguration' });
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBeUndefined();
  });

  it('turns versioning on with an expiry of old versions, and refuses that expiry without versioning (exit 2)', async () => {
    const bucket = await createTestBucket('setup-versions');
    const refused = await setup([`s3://${bucket}`, '--noncurrent-expire-after', '30d']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs versioning, which bucket .* does not have: add --versioning/);

    const r = await setup([`s3://${bucket}`, '--versioning', '--noncurrent-expire-after', '30d']);
    expect(r.code, r.stderr).toBe(0);
    expect((await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status).toBe('Enabled');
    expect((await rulesOf(bucket)).find((x) => x.ID === 'diskless-noncurrent')).toMatchObject({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } });
  });

  it('sets a default Object Lock retention on a bucket created with Object Lock, and names the fix on one without (exit 2)', async () => {
    const locked = `t-setup-lock-${randomBytes(5).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
    const r = await setup([`s3://${locked}`, '--object-lock-days', '7']);
    expect(r.code, r.stderr).toBe(0);
    const conf = await client.send(new GetObjectLockConfigurationCommand({ Bucket: locked }));
    expect(conf.ObjectLockConfiguration?.Rule?.DefaultRetention).toMatchObject({ Mode: 'GOVERNANCE', Days: 7 });

    const plain = await createTestBucket('setup-nolock');
    const refused = await setup([`s3://${plain}`, '--object-lock-days', '7']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/can only enable it when a bucket is created; create a new bucket with it \(aws s3api create-bucket .*--object-lock-enabled-for-bucket\)/);
  });

  it('fails with exit 3 naming the bucket when it does not exist, and exit 2 on a bad --transition', async () => {
    const missing = await setup([`s3://t-no-such-bucket-${randomBytes(4).toString('hex')}`]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/bucket "t-no-such-bucket-\w+" does not exist \(NoSuchBucket\)/);
    const bad = await setup(['s3://whatever', '--transition', 'GLACIER:90,STANDARD_IA:30']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must increase/);
  });
});
