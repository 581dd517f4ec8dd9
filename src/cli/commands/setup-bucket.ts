import { Command, Option } from 'commander';
import { parseTransitions, wholeDays } from '../../ops/bucket-rules.js';
import type { SetupBucketResult } from '../../ops/setup-bucket.js';
import { parseDuration } from '../../util/duration.js';
import { addConnectionOptions, loggerFor, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';

interface SetupBucketFlags extends ConnectionFlags {
  abortIncompleteDays: number;
  transition?: Array<{ storageClass: string; days: number }>;
  expireAfter?: number;
  versioning?: boolean;
  noncurrentExpireAfter?: number;
  objectLockDays?: number;
  objectLockMode: 'GOVERNANCE' | 'COMPLIANCE';
  dryRun?: boolean;
  json?: boolean;
}

export function setupBucketCommand(): Command {
  const days = (name: string) => (text: string) => wholeDays(parseDuration(text, name), name);
  const cmd = new Command('setup-bucket')
    .summary('give a backup bucket its lifecycle rules, versioning, Object Lock; print IAM policies')
    .description(
      'Applies what a backup bucket needs and prints it: a lifecycle rule that aborts incomplete multipart uploads, ' +
        'and on request storage-class transitions, expiry, versioning with expiry of old versions, and a default ' +
        'Object Lock retention. Rules are merged with the bucket\'s own: rules diskless did not write are kept as they ' +
        'are; its own (IDs starting "diskless-") are replaced. With s3://BUCKET/PREFIX/ the rules apply under PREFIX.\n\n' +
        'Also prints least-privilege IAM policies for a host that writes backups and for one that prunes them.',
    )
    .argument('<url>', 's3://BUCKET or s3://BUCKET/PREFIX/')
    .option('--abort-incomplete-days <n>', 'abort multipart uploads still incomplete after N days (0: no such rule)', wholeNumber('--abort-incomplete-days', 0, 36_500), 3)
    .option('--transition <list>', 'move objects to storage classes by age, e.g. STANDARD_IA:30,GLACIER:90', parseTransitions)
    .option('--expire-after <duration>', 'delete objects this long after they were written, e.g. 365d', days('--expire-after'))
    .option('--versioning', 'turn on versioning (a deleted or replaced object stays as an older version)')
    .option('--noncurrent-expire-after <duration>', 'with versioning: delete older versions this long after they were replaced, e.g. 30d', days('--noncurrent-expire-after'))
    .option('--object-lock-days <n>', 'default Object Lock retention of new objects, in days (bucket created with Object Lock)', wholeNumber('--object-lock-days', 1, 36_500))
    .addOption(new Option('--object-lock-mode <mode>', 'retention mode of --object-lock-days').choices(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE'))
    .option('--dry-run', 'print what would be applied, change nothing')
    .option('--json', 'print the result as one JSON object on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  diskless setup-bucket s3://backups --dry-run\n' +
        '  diskless setup-bucket s3://backups/db/ --transition STANDARD_IA:30,GLACIER:90 --expire-after 365d\n' +
        '  diskless setup-bucket s3://backups --versioning --noncurrent-expire-after 30d\n',
    );
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: SetupBucketFlags) => {
    const { setupBucket } = await import('../../ops/setup-bucket.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const result = await setupBucket({
      ...sessionOptions(flags, log),
      url,
      abortIncompleteDays: flags.abortIncompleteDays,
      transitions: flags.transition ?? [],
      ...(flags.expireAfter !== undefined ? { expireAfterDays: flags.expireAfter } : {}),
      ...(flags.versioning ? { versioning: true } : {}),
      ...(flags.noncurrentExpireAfter !== undefined ? { noncurrentExpireDays: flags.noncurrentExpireAfter } : {}),
      ...(flags.objectLockDays !== undefined ? { objectLock: { mode: flags.objectLockMode, days: flags.objectLockDays } } : {}),
      ...(flags.dryRun ? { dryRun: true } : {}),
    });
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : humanReport(result, !!flags.dryRun));
  });
}

function humanReport(r: SetupBucketResult, dryRun: boolean): string {
  const where = `s3://${r.bucket}/${r.prefix}`;
  const l = r.lifecycle;
  const lines = [
    `${dryRun ? 'Would apply to' : 'Applied to'} ${where}:`,
    `  lifecycle rules: ${l.added.length} added (${l.added.join(', ') || '-'}), ${l.replaced.length} replaced (${l.replaced.join(', ') || '-'}), ${l.kept.length} of the bucket's own kept (${l.kept.join(', ') || '-'})`,
    `  versioning: ${r.versioning.before}${r.versioning.after !== r.versioning.before ? ` -> ${r.versioning.after}` : ''}`,
    `  Object Lock: ${lockText(r.objectLock.before)}${r.objectLock.after !== r.objectLock.before ? ` -> ${lockText(r.objectLock.after)}` : ''}`,
    '',
    'Lifecycle configuration (S3 JSON, as `aws s3api put-bucket-lifecycle-configuration --lifecycle-configuration` takes it):',
    JSON.stringify({ Rules: l.rules }, null, 2),
    '',
    `IAM policy for a host that writes backups under ${where}:`,
    JSON.stringify(r.policies.writer, null, 2),
    '',
    `IAM policy for the host that prunes them (diskless prune, gc):`,
    JSON.stringify(r.policies.pruner, null, 2),
  ];
  return `${lines.join('\n')}\n`;
}

function lockText(s: SetupBucketResult['objectLock']['before']): string {
  if (!s.enabled) return 'off';
  return s.defaultRetention ? `on, default ${s.defaultRetention.mode} ${s.defaultRetention.days} days` : 'on, no default retention';
}
