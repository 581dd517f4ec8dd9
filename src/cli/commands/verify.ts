import { Command } from 'commander';
import { BackupVerifyError } from '../../errors.js';
import type { BackupVerification } from '../../ops/verify.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { addProgressOptions, withByteProgress, type ProgressFlags } from '../progress.js';
import { stderrLine } from '../status-line.js';
import { addIdentityOptions, identitiesFrom, type IdentityFlags } from '../encryption-options.js';

interface VerifyFlags extends ConnectionFlags, ProgressFlags, IdentityFlags {
  deep?: boolean;
  json?: boolean;
  record: boolean;
  concurrency?: number;
}

export function verifyCommand(ctx: CommandContext): Command {
  const cmd = new Command('verify')
    .summary('check a backup (or every backup under a prefix) against its manifest')
    .description(
      'Shallow (default, no download): every object of the manifest exists with the recorded size, ' +
        'composite ETag and part count. --deep reads every byte back with parallel ranged GETs and checks ' +
        'CRC32C (and SHA-256 when recorded) and the content: tar, gzip, zstd, xz, bzip2, pg_dump, mydumper.\n' +
        `Exits 6 when a backup does not verify. The result is recorded beside the manifest (--no-record: not).`,
    )
    .argument('<url>', 'a backup (its s3:// prefix, object or manifest) or a parent prefix')
    .option('--deep', 'read everything back: checksums and content formats')
    .option('--json', 'print one JSON object')
    .option('--no-record', 'do not record the result beside the backup (read-only credentials)')
    .option('--concurrency <n>', 'ranged GETs in flight (default 8)', wholeNumber('--concurrency', 1, 64));
  addIdentityOptions(cmd, 'decrypt encrypted files with --deep and check their content (without: ciphertext checksums only)');
  addProgressOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: VerifyFlags) => {
    const { verify } = await import('../../ops/verify.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const identities = await identitiesFrom(flags);
    // Progress only for --deep: a shallow verify reads no object.
    const progress = flags.deep ? flags : { ...flags, progress: false };
    const result = await withByteProgress('verifying', progress, log, (onBytes) => verify({
      ...sessionOptions(flags, log),
      url,
      deep: flags.deep ?? false,
      record: flags.record,
      ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
      signal: ctx.signal,
      ...(identities ? { identities } : {}),
      ...(flags.json ? {} : { onBackup: (b: BackupVerification) => stderrLine.around(() => process.stdout.write(describe(b))) }),
      onBytes,
    }));
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 1) + '\n');
    const failed = result.backups.filter((b) => !b.ok);
    const files = result.backups.reduce((n, b) => n + b.files.length, 0);
    const bad = result.backups.reduce((n, b) => n + b.files.filter((f) => f.status !== 'ok').length, 0);
    const summary =
      `${result.backups.length} backup(s), ${files} file(s) checked ${flags.deep ? 'deep' : 'shallow'}: ` +
      `${result.backups.length - failed.length} ok, ${failed.length} failed (${bad} file(s) not ok)`;
    const fields = { url, bytes: result.backups.reduce((n, b) => n + b.bytesRead, 0), objects: files, backups: result.backups.length, failed: failed.length };
    ctx.report.summary(log, result.ok && result.backups.length > 0 ? summary : '', fields);
    if (result.backups.length === 0) throw new BackupVerifyError(`no backup at or under ${url}`);
    if (!result.ok) throw new BackupVerifyError(`verification failed: ${summary}`);
  });
}

/** One line per file that is not ok (and per ok file with a note), then the backup's line. */
function describe(b: BackupVerification): string {
  const lines: string[] = [];
  for (const f of b.files) {
    if (f.status !== 'ok') lines.push(`  ${f.status.toUpperCase()}  ${f.path}${f.detail ? `: ${f.detail}` : ''}`);
    else if (f.note) lines.push(`  note  ${f.path}: ${f.note}`);
  }
  if (b.problem) lines.push(`  ${b.problem}`);
  if (b.unexpected.length > 0) lines.push(`  unexpected (not in the manifest): ${b.unexpected.slice(0, 5).join(', ')}${b.unexpected.length > 5 ? ', …' : ''}`);
  const ok = b.files.filter((f) => f.status === 'ok').length;
  const formats = [...new Set(b.files.map((f) => f.format).filter(Boolean))].join(', ');
  const head =
    `${b.ok ? 'ok' : 'FAILED'}  ${b.url}: ${ok}/${b.files.length} file(s) ok, ${b.deep ? `deep, ${formatBytes(b.bytesRead)} read` : 'shallow'}` +
    `${formats ? `, formats: ${formats}` : ''}, ${(b.elapsedMs / 1000).toFixed(1)} s`;
  return [head, ...lines].join('\n') + '\n';
}
