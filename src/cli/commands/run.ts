import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { formatS3Url } from '../../s3/s3-url.js';
import { captureOptions, addCaptureOptions, type CaptureFlags } from '../capture-options.js';
import { addIdentityOptions, identitiesFrom, type IdentityFlags } from '../encryption-options.js';
import { addConnectionOptions, loggerFor, seconds, sessionOptions } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { withUploadProgress } from '../progress.js';
import { manifestSummaryFields } from '../summary.js';

interface RunFlags extends Omit<CaptureFlags, 'to'>, IdentityFlags {
  to?: string;
  from?: string;
  linger: number;
  passAwsEnv?: boolean;
}

export function runCommand(ctx: CommandContext): Command {
  const cmd = new Command('run')
    .summary("run a program; the files it writes under --dir stream to S3, one object each")
    .description(
      'Runs CMD with the diskless shim preloaded: every file it (or its children) creates under --dir becomes ' +
        'the object PREFIX/<path under DIR>, streamed while it is written; nothing is written to local disk. ' +
        'When CMD exits 0 and every file is stored, the manifest PREFIX/diskless-manifest.json is written last.\n' +
        'Exit status: 0 stored; 5 the command failed; 4 an upload failed; 2 bad arguments; 3 preflight. ' +
        'Files stored earlier in the run can be read back (open them read-only once closed). ' +
        'With --from instead of --to, CMD sees the files of a stored backup under --dir and reads them straight ' +
        'from S3 (read-only: writes there fail with EROFS); exit 6 if a file did not check out (it is named). ' +
        'With --from and --to, CMD reads the old backup and writes a new one under the same --dir: the old files ' +
        'stay read-only, new names go to the --to backup, whose manifest lists only what CMD wrote.',
    )
    .option('--to <url>', 'target prefix, s3://BUCKET/PREFIX/ ({host} {date} {time} {run} are expanded; one holding a backup is refused without --overwrite)')
    .option('--from <url>', 'a stored backup (s3://BUCKET/PREFIX/ of a run or serve) the program reads under --dir (with --to: beside the files it writes, read-only)')
    .requiredOption('--dir <dir>', 'the directory the program writes to, or reads from with --from (empty or absent)')
    .argument('<command...>', 'the program and its arguments (after --)')
    .option('--linger <seconds>', 'after the command exits, how long its children may still write', seconds('--linger'), 60)
    .option('--pass-aws-env', 'keep the AWS credential variables in the command\'s environment (default: removed)');
  addCaptureOptions(cmd);
  addIdentityOptions(cmd, 'decrypt an encrypted backup read with --from');
  addConnectionOptions(cmd);
  return cmd.action(async (command: string[], flags: RunFlags) => {
    if (!ctx.argv.includes('--')) {
      const target = flags.from !== undefined ? `--from ${flags.from}` : `--to ${flags.to ?? 's3://BUCKET/PREFIX/'}`;
      throw new UsageError(`put -- before the command: diskless run ${target} --dir ${flags.dir} -- ${command.join(' ')}`);
    }
    const log = loggerFor(flags);
    if (flags.identity?.length && flags.from === undefined) {
      throw new UsageError('--identity decrypts a backup read with --from; to encrypt what run writes, give --encrypt-to RECIPIENT (the public key)');
    }
    if (flags.from !== undefined && (flags.encryptTo?.length || flags.recipientsFile?.length) && flags.to === undefined) {
      throw new UsageError('--encrypt-to encrypts what run writes, and a --from run without --to writes nothing; to decrypt the backup read, give --identity FILE');
    }
    const identities = flags.from !== undefined ? await identitiesFrom(flags) : undefined;
    if (flags.from !== undefined && flags.to === undefined) {
      const { runFrom } = await import('../../ops/run-from.js'); // loaded on use (program.ts)
      await runFrom({
        ...sessionOptions(flags, log),
        from: flags.from,
        dir: flags.dir,
        command,
        lingerMs: flags.linger * 1000,
        memory: flags.memory,
        ...(identities ? { identities } : {}),
        ...(flags.shimLog !== undefined ? { shimLogLevel: flags.shimLog } : {}),
        ...(flags.passAwsEnv ? { passAwsEnv: true } : {}),
        signal: ctx.signal,
      });
      return;
    }
    const to = flags.to;
    if (to === undefined) throw new UsageError('give --to s3://BUCKET/PREFIX/ (where the files go) or --from s3://BUCKET/PREFIX/ (a backup to read)');
    const { run } = await import('../../ops/run.js'); // loaded on use (program.ts)
    const result = await withUploadProgress(flags, log, (meter) =>
      run({ ...captureOptions({ ...flags, to }, log), ...(flags.from !== undefined ? { from: flags.from } : {}), ...(identities ? { identities } : {}), command, lingerMs: flags.linger * 1000, ...(flags.passAwsEnv ? { passAwsEnv: true } : {}), signal: ctx.signal, meter }),
    );
    ctx.report.summary(log, '', manifestSummaryFields(result.manifest, result.bucket, result.prefix, result.manifestKey));
    log.debug(`manifest: ${formatS3Url({ bucket: result.bucket, key: result.manifestKey })}`);
  });
}
