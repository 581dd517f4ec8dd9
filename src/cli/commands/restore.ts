import { Command } from 'commander';
import { BackupVerifyError, UploadError } from '../../errors.js';
import { DEFAULT_RESTORE_CONCURRENCY, restore, type RestoreProgress } from '../../ops/restore.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { addIdentityOptions, identitiesFrom, type IdentityFlags } from '../encryption-options.js';

interface RestoreFlags extends ConnectionFlags, IdentityFlags {
  concurrency?: number;
  force?: boolean;
  overwrite?: boolean;
  include: string[];
  exclude: string[];
  progress?: boolean;
  fsync: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function restoreCommand(ctx: CommandContext): Command {
  const cmd = new Command('restore')
    .summary('restore one backup (run/serve prefix, put object, snapshot) into a directory')
    .description(
      'Restores one backup into DIR: every file read with parallel ranged GETs, written under a temporary\n' +
        'name and renamed when its CRC32C (and SHA-256 when recorded) match the manifest; snapshot archives\n' +
        'extracted with the metadata flags they were made with. Exits 6 naming the files that are missing\n' +
        'or do not match (the others are restored). Refuses a backup without a manifest unless --force, and\n' +
        'a non-empty DIR unless --overwrite.',
    )
    .argument('<url>', 'the backup: s3://B/PREFIX/ (run, serve), s3://B/KEY (put), a snapshot manifest or archive')
    .argument('<dir>', 'where to restore (absent or empty)')
    .option('--concurrency <n>', `ranged GETs in flight (default ${DEFAULT_RESTORE_CONCURRENCY})`, wholeNumber('--concurrency', 1, 64))
    .option('--force', 'restore a backup without a manifest (sizes and ETags checked, no checksums)')
    .option('--overwrite', 'restore into a non-empty DIR, replacing files of the same name')
    .option('--include <glob>', 'restore only paths matching this glob (repeatable; snapshots: volume labels)', collect, [])
    .option('--exclude <glob>', 'skip paths matching this glob (repeatable)', collect, [])
    .option('--no-progress', 'no progress line on a terminal')
    .option('--no-fsync', 'do not fsync each file before renaming it (faster; a crash may leave named files not yet on disk)');
  addIdentityOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, dir: string, flags: RestoreFlags) => {
    const log = loggerFor(flags);
    const identities = await identitiesFrom(flags);
    const tty = process.stderr.isTTY && flags.progress !== false && !flags.quiet;
    let last = 0;
    const onProgress = (p: RestoreProgress) => {
      const now = Date.now();
      if (now - last < 250 && p.filesDone < p.files) return;
      last = now;
      process.stderr.write(`\r\x1b[Krestoring: ${p.filesDone}/${p.files} file(s), ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytes)}`);
    };
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
      ...(tty ? { onProgress } : {}),
    });
    if (tty) process.stderr.write('\r\x1b[K');
    for (const n of result.notes) log.warn(n);
    const bad = result.files.filter((f) => f.status !== 'ok');
    for (const f of bad) process.stderr.write(`  ${f.status.toUpperCase()}  ${f.path}${f.detail ? `: ${f.detail}` : ''}\n`);
    const secs = result.elapsedMs / 1000;
    const summary =
      `${result.files.length - bad.length}/${result.files.length} file(s)${result.symlinks ? ` and ${result.symlinks} symlink(s)` : ''} of ${result.url} restored into ${dir}: ` +
      `${formatBytes(result.bytes)} in ${secs.toFixed(1)} s (${formatBytes(Math.round(result.bytes / Math.max(secs, 0.001)))}/s)`;
    if (bad.length === 0) return log.info(summary);
    const named = bad.slice(0, 5).map((f) => f.path).join(', ') + (bad.length > 5 ? ', …' : '');
    // A store that failed (after retries) is exit 4; files missing or not matching their manifest, exit 6.
    if (bad.some((f) => f.status === 'error')) throw new UploadError(`restore incomplete: ${summary}; ${bad.length} file(s) not restored: ${named}`);
    throw new BackupVerifyError(`restore incomplete: ${summary}; ${bad.length} file(s) missing or damaged, not restored: ${named}`);
  });
}
