import { Command, Option } from 'commander';
import { UploadError } from '../../errors.js';
import type { PruneStep, PrunedBackup } from '../../ops/prune.js';
import { parseDuration } from '../../util/duration.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';

interface PruneFlags extends ConnectionFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: number;
  dryRun?: boolean;
  incompleteAfter: number;
  groupBy: 'template' | 'none';
  json?: boolean;
}

/** Test hook: SIGKILL this process right after the first manifest is deleted (the interrupted-prune test). */
const KILL_AFTER_MANIFEST = 'DISKLESS_TEST_PRUNE_KILL_AFTER_MANIFEST';

export function pruneCommand(ctx: CommandContext): Command {
  const count = (name: string) => wholeNumber(name, 0, 1_000_000);
  const cmd = new Command('prune')
    .summary('delete the backups under a prefix that no keep rule keeps')
    .description(
      'Applies the keep rules (as restic forget: the newest backup of each of the last N hours/days/ISO weeks/' +
        'months/years that have one, in UTC; the last N; all within a duration of the newest) to each series of ' +
        'complete backups under PARENT (same kind, host, directory and name with digits ignored; --group-by none: ' +
        'all of PARENT), and deletes the rest: manifest first, then the objects. The newest backup of a series is ' +
        'always kept.\n' +
        'Backups without a manifest never count; they are deleted when their newest object is older ' +
        'than --incomplete-after and no multipart upload is open under them. Damaged backups are never deleted.',
    )
    .argument('<parent>', 's3://BUCKET/PREFIX/ holding the backups')
    .option('--keep-last <n>', 'keep the newest N backups', count('--keep-last'))
    .option('--keep-hourly <n>', 'keep the newest backup of each of the last N hours that have one', count('--keep-hourly'))
    .option('--keep-daily <n>', 'the same per day (UTC)', count('--keep-daily'))
    .option('--keep-weekly <n>', 'the same per ISO week', count('--keep-weekly'))
    .option('--keep-monthly <n>', 'the same per month', count('--keep-monthly'))
    .option('--keep-yearly <n>', 'the same per year', count('--keep-yearly'))
    .option('--keep-within <duration>', 'keep every backup this close to the newest one (e.g. 7d, 36h)', (t: string) => parseDuration(t, '--keep-within'))
    .option('--incomplete-after <duration>', 'delete backups without a manifest once their newest object is this old', (t: string) => parseDuration(t, '--incomplete-after'), 24 * 3_600_000)
    .addOption(new Option('--group-by <rule>', 'what makes a series').choices(['template', 'none']).default('template'))
    .option('--dry-run', 'print the plan; delete nothing')
    .option('--json', 'print the result as one JSON object');
  addConnectionOptions(cmd);
  return cmd.action(async (parent: string, flags: PruneFlags) => {
    const { prune } = await import('../../ops/prune.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const onStep = (s: PruneStep) => {
      if (s.step === 'manifest-deleted' && process.env[KILL_AFTER_MANIFEST] === '1') process.kill(process.pid, 'SIGKILL');
      if (s.step === 'resumed') log.info(`finished an interrupted prune: ${s.marker} (${s.objects} object(s) deleted)`);
      if (s.step === 'backup-deleted') log.info(`deleted ${s.url} (${s.objects} object(s))`);
    };
    const result = await prune({
      ...sessionOptions(flags, log),
      url: parent,
      policy: {
        ...(flags.keepLast !== undefined ? { last: flags.keepLast } : {}),
        ...(flags.keepHourly !== undefined ? { hourly: flags.keepHourly } : {}),
        ...(flags.keepDaily !== undefined ? { daily: flags.keepDaily } : {}),
        ...(flags.keepWeekly !== undefined ? { weekly: flags.keepWeekly } : {}),
        ...(flags.keepMonthly !== undefined ? { monthly: flags.keepMonthly } : {}),
        ...(flags.keepYearly !== undefined ? { yearly: flags.keepYearly } : {}),
        ...(flags.keepWithin !== undefined ? { withinMs: flags.keepWithin } : {}),
      },
      dryRun: flags.dryRun ?? false,
      incompleteAfterMs: flags.incompleteAfter,
      groupBy: flags.groupBy,
      signal: ctx.signal,
      onStep,
    });
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 1) + '\n');
    else process.stdout.write(planText(result.backups, result.dryRun) + result.resumed.map((m) => `${result.dryRun ? 'would finish' : 'finished'}  ${m}\n`).join(''));
    const deleting = result.backups.filter((b) => b.action === 'delete');
    for (const f of result.failed.slice(0, 20)) log.warn(`could not delete ${f.key}: ${f.code}${f.message ? ` (${f.message})` : ''}`);
    const summary = `${result.backups.length} backup(s): ${result.backups.filter((b) => b.action === 'keep').length} kept, ${deleting.length} ${result.dryRun ? 'to delete' : 'deleted'}, ${result.backups.filter((b) => b.action === 'skip').length} skipped; ${result.dryRun ? `${deleting.reduce((n, b) => n + b.objects, 0)} object(s) would be deleted (dry run: nothing deleted)` : `${result.deletedObjects} object(s) deleted`}`;
    if (result.failed.length > 0) throw new UploadError(`${summary}; ${result.failed.length} object(s) could not be deleted (first: ${result.failed[0]!.key}: ${result.failed[0]!.code})`);
    log.info(summary);
  });
}

function planText(backups: readonly PrunedBackup[], dryRun: boolean): string {
  const word = (b: PrunedBackup) => (b.action === 'delete' ? (dryRun ? 'would delete' : 'delete') : b.action);
  return backups
    .map((b) => `${word(b).padEnd(12)}  ${(b.startedAt ?? '-').replace(/\.\d+Z$/, 'Z').padEnd(20)}  ${b.status.padEnd(10)}  ${formatBytes(b.bytes).padStart(10)}  ${b.url}${b.reasons.length ? `  (${b.reasons.join(', ')})` : ''}${b.leftUnnamed ? `  [${b.leftUnnamed} object(s) the manifest does not name are left]` : ''}${b.leftForeign ? `  [${b.leftForeign} object(s) not written by diskless are left]` : ''}\n`)
    .join('');
}
