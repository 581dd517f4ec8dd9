import { Command } from 'commander';
import type { BackupListing } from '../../ops/ls.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, sessionOptions, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';

interface LsFlags extends ConnectionFlags {
  json?: boolean;
}

export function lsCommand(ctx: CommandContext): Command {
  const cmd = new Command('ls')
    .summary('list the backups at or under a prefix: complete, incomplete or damaged')
    .description(
      'Lists every backup at or under s3://BUCKET/PREFIX/ from one listing (no request per object): ' +
        'complete (manifest present, every object as recorded), incomplete (objects without a manifest: ' +
        'a failed, killed or running backup), damaged (the manifest names objects that are missing or differ).',
    )
    .argument('<url>', 's3://BUCKET[/PREFIX]')
    .option('--json', 'print one JSON array');
  addConnectionOptions(cmd);
  return cmd.action(async (url: string, flags: LsFlags) => {
    const { ls } = await import('../../ops/ls.js'); // loaded on use (program.ts)
    const log = loggerFor(flags);
    const backups = await ls({ ...sessionOptions(flags, log), url, signal: ctx.signal });
    process.stdout.write(flags.json ? JSON.stringify(backups, null, 1) + '\n' : table(backups));
  });
}

function table(rows: readonly BackupListing[]): string {
  if (rows.length === 0) return 'no backups\n';
  const cells = rows.map((b) => [
    b.startedAt ? b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    b.status,
    b.kind,
    String(b.files),
    formatBytes(b.bytes),
    b.lastVerification ? `${b.lastVerification.deep ? 'deep' : 'shallow'} ${b.lastVerification.result} ${b.lastVerification.at.slice(0, 10)}` : '-',
    b.url,
  ]);
  const head = ['STARTED', 'STATUS', 'KIND', 'FILES', 'SIZE', 'VERIFIED', 'URL'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ') + '\n';
  const notes = rows.flatMap((b) => b.problems.map((p) => `  ${b.url}: ${p}\n`));
  return line(head) + cells.map(line).join('') + (notes.length ? 'damaged:\n' + notes.join('') : '');
}
