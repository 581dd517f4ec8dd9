import { Command, Option } from 'commander';
import { UploadError } from '../../errors.js';
import { formatS3Url } from '../../s3/s3-url.js';
import { parseDuration } from '../../util/duration.js';
import { addConnectionOptions, loggerFor, sessionOptions, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';

interface GcFlags extends ConnectionFlags {
  olderThan: number;
  dryRun?: boolean;
  stateDir?: string;
}

export function gcCommand(_ctx: CommandContext): Command {
  const cmd = new Command('gc')
    .summary('abort incomplete multipart uploads left behind')
    .description(
      'Aborts incomplete multipart uploads under s3://BUCKET[/PREFIX]: first those that killed diskless runs on ' +
        'this host recorded, then any started more than --older-than ago (younger ones may be backups in progress). ' +
        'A bucket lifecycle rule (AbortIncompleteMultipartUpload) does the same on the server side.',
    )
    .argument('<url>', 's3://BUCKET or s3://BUCKET/PREFIX')
    .addOption(
      new Option('--older-than <duration>', 'only uploads started longer ago, e.g. 30m, 24h, 7d, 0')
        .argParser((t) => parseDuration(t, '--older-than'))
        .default(86_400_000, '24h'),
    )
    .option('--dry-run', 'list what would be aborted, abort nothing')
    .option('--state-dir <dir>', 'where open uploads are recorded (default $XDG_STATE_HOME/diskless)');
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: GcFlags) => {
    const { gc } = await import('../../ops/gc.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const result = await gc({
      ...sessionOptions(flags, log),
      url,
      olderThanMs: flags.olderThan,
      ...(flags.dryRun ? { dryRun: true } : {}),
      ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    });
    const verb = flags.dryRun ? 'would abort' : 'aborted';
    for (const u of result.aborted) log.info(`${verb} ${formatS3Url(u)} (upload started ${u.initiated?.toISOString() ?? 'at an unknown time'})`);
    for (const f of result.failed) log.warn(`could not abort ${formatS3Url(f.upload)}: ${f.error}`);
    log.info(
      `${verb} ${result.aborted.length + result.leftovers} incomplete upload(s); kept ${result.kept} younger than --older-than`,
    );
    if (result.failed.length > 0) throw new UploadError(`${result.failed.length} upload(s) could not be aborted`);
  });
}
