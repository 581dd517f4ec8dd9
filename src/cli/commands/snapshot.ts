import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import { DEFAULT_FILL_ABORT_PERCENT } from '../../ops/command-defaults.js';
import { formatS3Url } from '../../s3/s3-url.js';
import { displayCommand } from '../../snapshot/command-runner.js';
import type { Compression } from '../../snapshot/tar-stream.js';
import { DEFAULT_KEY_TEMPLATE, SNAPSHOT_METHODS, describeSnapshotSize, parseSnapshotSize, type SnapshotMethod, type SnapshotSize, type VolumePlan } from '../../snapshot/volume-plan.js';
import { DEFAULT_WORK_DIR } from '../../snapshot/run-dir.js';
import { addUploadOptions, uploadOptions, type UploadFlags } from '../upload-options.js';
import { addEncryptOptions, encryptionRecipients, type EncryptFlags } from '../encryption-options.js';
import { formatBytes } from '../../util/size.js';
import { addConnectionOptions, loggerFor, seconds, sessionOptions, wholeNumber, type ConnectionFlags } from '../common-options.js';
import type { CommandContext } from '../program.js';
import { withUploadProgress } from '../progress.js';
import { manifestSummaryFields } from '../summary.js';

interface SnapshotFlags extends ConnectionFlags, UploadFlags, EncryptFlags {
  to: string;
  volume: string[];
  mount: string[];
  all?: boolean;
  method: SnapshotMethod;
  snapshotSize?: SnapshotSize;
  compress?: Compression;
  key: string;
  fillAbort: number;
  fillPoll: number;
  freezeTimeout: number;
  workDir: string;
  dryRun?: boolean;
  keepGoing?: boolean;
  sha256?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function snapshotCommand(ctx: CommandContext): Command {
  const cmd = new Command('snapshot')
    .summary('snapshot volumes (LVM, btrfs, fsfreeze) and stream each as a tar archive into S3')
    .description(
      'For each volume: a consistent read-only copy (an LVM snapshot mounted read-only, a read-only btrfs ' +
        'snapshot, or the filesystem frozen), streamed by tar (xattrs, ACLs, SELinux labels, numeric owners, ' +
        'sparse files) into PREFIX/<host>/<name>-<timestamp>.tar[.zst|.gz]; the snapshot is then removed. ' +
        'A manifest PREFIX/<host>/diskless-manifest-<timestamp>.json is written last, only if every volume was stored.\n' +
        'Snapshots, mounts and freezes are undone on any failure and on SIGINT/SIGTERM; what a killed run left ' +
        '(LVs named diskless-snap-<pid>-*, mounts under --work-dir) is removed by the next run.\n' +
        'Exit status: 0 stored; 5 a snapshot, tar or a volume failed; 4 an upload failed; 3 preflight; 2 bad arguments.',
    )
    .requiredOption('--to <url>', 'target prefix, s3://BUCKET/PREFIX/')
    .option('--volume <vg/lv>', 'logical volume to back up (repeatable; --method lvm)', collect, [])
    .option('--mount <path>', 'mount point (lvm, fsfreeze), subvolume (btrfs) or directory (none) to back up (repeatable)', collect, [])
    .option('--all', 'every mounted logical volume (--method lvm)')
    .addOption(new Option('--method <method>', 'how to get a consistent copy').choices([...SNAPSHOT_METHODS]).default('lvm'))
    .option('--snapshot-size <size>', 'copy-on-write space of classic LVM snapshots: SIZE or N%ORIGIN (default 10%ORIGIN)', parseSnapshotSize)
    .addOption(new Option('--compress <program>', 'compress the archives').choices(['zstd', 'gzip']))
    .option('--key <template>', 'object key below the prefix: {host} {name} {vg} {lv} {timestamp} {ext} {method}', DEFAULT_KEY_TEMPLATE)
    .option('--fill-abort <percent>', 'stop a volume when its snapshot (or thin pool) is this full', wholeNumber('--fill-abort', 1, 99), DEFAULT_FILL_ABORT_PERCENT)
    .option('--fill-poll <seconds>', 'how often to check snapshot usage', seconds('--fill-poll'), 1)
    .option('--freeze-timeout <seconds>', '--method fsfreeze: longest freeze; the volume fails past it', seconds('--freeze-timeout'), 60)
    .option('--work-dir <dir>', 'private directory for snapshot mounts', DEFAULT_WORK_DIR)
    .option('--dry-run', 'check everything and print the plan; create nothing')
    .option('--keep-going', 'after a volume fails, back up the others and keep their archives (still no manifest)')
    .option('--sha256', 'also compute a SHA-256 of each archive (in the manifest)');
  addUploadOptions(cmd);
  addEncryptOptions(cmd);
  addConnectionOptions(cmd);
  return cmd.action(async (flags: SnapshotFlags) => {
    const { snapshot } = await import('../../ops/snapshot.js'); // loaded on use (program.ts)
    if (cmd.args.length > 0) throw new UsageError(`snapshot takes no arguments (got ${cmd.args.join(' ')}); use --volume or --mount`);
    const log = loggerFor(flags);
    // A dry run uploads nothing: no progress line.
    const result = await withUploadProgress(flags.dryRun ? { ...flags, progress: false } : flags, log, (meter) => snapshot({
      ...sessionOptions(flags, log),
      ...(flags.dryRun ? {} : { meter }),
      ...uploadOptions(flags),
      ...encryptTo(flags),
      to: flags.to,
      method: flags.method,
      volumes: flags.volume,
      mounts: flags.mount,
      all: flags.all ?? false,
      ...(flags.snapshotSize ? { snapshotSize: flags.snapshotSize } : {}),
      ...(flags.compress ? { compress: flags.compress } : {}),
      keyTemplate: flags.key,
      fillAbortPercent: flags.fillAbort,
      fillIntervalMs: flags.fillPoll * 1000,
      freezeTimeoutMs: flags.freezeTimeout * 1000,
      workDir: flags.workDir,
      dryRun: flags.dryRun ?? false,
      keepGoing: flags.keepGoing ?? false,
      ...(flags.sha256 ? { sha256: true } : {}),
      signal: ctx.signal,
    }));
    if (result.dryRun) {
      process.stdout.write(formatPlan(result.plan, result.commands, flags, result.bucket, result.manifestKey));
    } else if (result.manifest) ctx.report.summary(log, '', manifestSummaryFields(result.manifest, result.bucket, result.prefix, result.manifestKey));
  });
}

/** The --dry-run output: one block per volume, what would be created and run, on stdout. */
export function formatPlan(plan: readonly VolumePlan[], commands: readonly string[][][], flags: { snapshotSize?: SnapshotSize }, bucket: string, manifestKey: string): string {
  const lines = [`diskless snapshot plan: ${plan.length} volume(s), one after another`];
  plan.forEach((v, i) => {
    lines.push(`${i + 1}. ${v.label} (${v.fstype}${v.mountpoint ? ` on ${v.mountpoint}` : ', not mounted'}), --method ${v.method}`);
    if (v.method === 'lvm') {
      lines.push(
        v.snapshot.kind === 'classic'
          ? `   snapshot: lvcreate -s -L ${v.snapshot.size}b -n ${v.snapshot.name} ${v.vg}/${v.lv}  (${formatBytes(v.snapshot.size)}, ${describeSnapshotSize(flags.snapshotSize ?? { percentOfOrigin: 10 })} of ${formatBytes(v.size)})`
          : `   snapshot: thin, lvcreate -s -n ${v.snapshot.name} ${v.vg}/${v.lv}; lvchange -ay -K (pool ${v.vg}/${v.snapshot.pool})`,
      );
    } else if (v.method === 'btrfs') lines.push(`   snapshot: btrfs subvolume snapshot -r ${v.path} ${v.path}/.diskless-snap-<pid>-<timestamp>`);
    else if (v.method === 'fsfreeze') lines.push(`   freeze: fsfreeze --freeze ${v.path} for the whole stream (writers block)`);
    else lines.push(`   no snapshot: the live tree is archived as it changes`);
    for (const c of commands[i] ?? []) lines.push(`   run: ${displayCommand(c)}`);
    lines.push(`   to: ${formatS3Url({ bucket, key: v.key })}`);
  });
  lines.push(`manifest (last, only if every volume succeeds): ${formatS3Url({ bucket, key: manifestKey })}`);
  return lines.join('\n') + '\n';
}

function encryptTo(flags: EncryptFlags): { encryptTo?: string[] } {
  const recipients = encryptionRecipients(flags);
  return recipients ? { encryptTo: recipients } : {};
}
