import { Command } from 'commander';
import { BackupVerifyError, UploadError } from '../../errors.js';
import { DEFAULT_RESTORE_CONCURRENCY } from '../../ops/command-defaults.js';
import type { RestoreProgress } from '../../ops/restore.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { addProgressOptions, ProgressReporter, type ProgressFlags } from '../progress.js';
import { addIdentityOptions, identitiesFrom, type IdentityFlags } from '../encryption-options.js';

interface RestoreFlags extends ConnectionFlags, ProgressFlags, IdentityFlags {
  concurrency?: number;
  force?: boolean;
  overwrite?: boolean;
  include: string[];
  exclude: string[];
  fsync: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function restoreCommand(ctx: CommandContext): Command {
  const cmd = new Command('restore')
    .summary('restore one backup (run/serve prefix, put object, snapshot) into a directory')
    .description(
      'Restores one backup into DIR: every file read with parallel ranged GETs, written under a temporary ' +
        'name and renamed when its CRC32C (and SHA-256 when recorded) match the manifest; snapshot archives ' +
        'extracted with the metadata flags they were made with. Exits 6 naming the files that are missing ' +
        'or do not match (the others are restored). Refuses a backup without a manifest unless --force, and ' +
        'a non-empty DIR unless --overwrite.',
    )
    .argument('<url>', 'the backup: s3://B/PREFIX/ (run, serve), s3://B/KEY (put), a snapshot manifest or archive')
    .argument('<dir>', 'where to restore (absent or empty)')
    .option('--concurrency <n>', `ranged GETs in flight (default ${DEFAULT_RESTORE_CONCURRENCY})`, wholeNumber('--concurrency', 1, 64))
    .option('--force', 'restore a backup without a manifest (sizes and ETags checked, no checksums)')
    .option('--overwrite', 'restore into a non-empty DIR, replacing files of the same name')
    .option('--include <glob>', 'restore only paths matching this glob (repeatable; snapshots: volume labels)', collect, [])
    .option('--exclude <glob>', 'skip paths matching this glob (repeatable)', collect, [])
    .option('--no-fsync', 'do not fsync each file before renaming it (faster; a crash may leave named files not yet on disk)');
  addIdentityOptions(cmd);
  addProgressOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, dir: string, flags: RestoreFlags) => {
    const { restore } = await import('../../ops/restore.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const identities = await identitiesFrom(flags);
    let progress: RestoreProgress | undefined;
    const reporter = ProgressReporter.start(
      'restoring',
      () => ({ bytes: progress?.bytesDone ?? 0, ...(progress ? { total: progress.bytes, files: progress.files, filesDone: progress.filesDone } : {}) }),
      flags,
      log,
    );
    const result = await restore({
      ...sessionOptions(flags, log),
      url,
      dir,
      ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
      force: flags.force ?? false,
      fsync: flags.fsync,
      overwrite: flags.overwrite ?? false,
      include: flags.include,
      exclude: flags.exclude,
      signal: ctx.signal,
      ...(identities ? { identities } : {}),
      onProgress: (p) => {
        progress = p;
        reporter?.poke();
      },
    }).finally(() => reporter?.stop());
    for (const n of result.notes) log.warn(n);
    const bad = result.files.filter((f) => f.status !== 'ok');
    for (const f of bad) log.event('warn', 'file', { path: f.path, status: f.status, ...(f.detail ? { detail: f.detail } : {}) }, `${f.status.toUpperCase()}  ${f.path}${f.detail ? `: ${f.detail}` : ''}`);
    const secs = result.elapsedMs / 1000;
    const summary =
      `${result.files.length - bad.length}/${result.files.length} file(s)${result.symlinks ? ` and ${result.symlinks} symlink(s)` : ''} of ${result.url} restored into ${dir}: ` +
      `${formatBytes(result.bytes)} in ${secs.toFixed(1)} s (${formatBytes(Math.round(result.bytes / Math.max(secs, 0.001)))}/s)`;
    const fields = { url: result.url, bytes: result.bytes, objects: result.files.length - bad.length, dir };
    if (bad.length === 0) return ctx.report.summary(log, summary, fields);
    ctx.report.summary(log, '', fields);
    const named = bad.slice(0, 5).map((f) => f.path).join(', ') + (bad.length > 5 ? ', …' : '');
    // A store that failed (after retries) is exit 4; files missing or not matching their manifest, exit 6.
    if (bad.some((f) => f.status === 'error')) throw new UploadError(`restore incomplete: ${summary}; ${bad.length} file(s) not restored: ${named}`);
    throw new BackupVerifyError(`restore incomplete: ${summary}; ${bad.length} file(s) missing or damaged, not restored: ${named}`);
  });
}
