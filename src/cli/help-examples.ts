import type { Command } from 'commander';

/**
 * The Examples section of each command's --help, in one place (doctor and setup-bucket carry theirs beside their
 * options). Each line is a command as typed at a shell prompt, with a comment where it helps.
 */
export const EXAMPLES: Record<string, readonly string[]> = {
  diskless: [
    "diskless run --to 's3://backups/db/{date}/' --dir /tmp/dump -- pg_dump -Fd -j 4 -f /tmp/dump/db shop",
    "diskless put 's3://backups/db/shop-{date}.sql.gz' -- bash -c 'set -o pipefail; mysqldump shop | gzip'",
    'diskless ls s3://backups/db/ && diskless verify --deep s3://backups/db/',
    'diskless restore s3://backups/db/2026-12-01/ /srv/restore/',
    'diskless put --help                # each command has its own options and examples',
  ],
  put: [
    "diskless put 's3://backups/db/shop-{date}.sql.gz' -- bash -c 'set -o pipefail; mysqldump --single-transaction shop | gzip'",
    'tar -cf - /etc | diskless put s3://backups/etc.tar            # from a pipe',
    'diskless put s3://backups/big.img --expected-size 200GiB -- cat /dev/vg0/img   # one part size for 200 GiB, and an ETA',
    'diskless --log-format json put s3://backups/x -- pg_dump shop 2> put.log         # JSON lines, summary last',
  ],
  get: ['diskless get s3://backups/db/shop.sql.gz | gunzip | mysql shop', 'diskless get s3://backups/etc.tar | tar -t'],
  gc: ['diskless gc s3://backups --dry-run', 'diskless gc s3://backups/db/ --older-than 2d'],
  run: [
    "diskless run --to 's3://backups/db/{date}/' --dir /tmp/dump -- pg_dump -Fd -j 4 -f /tmp/dump/db shop",
    'diskless run --to s3://backups/db/2026-11-21/ --dir /tmp/dump -- mydumper -t 4 -o /tmp/dump',
    "diskless run --to s3://backups/db/ --dir /tmp/out -- bash -c 'set -o pipefail; mysqldump shop | gzip > /tmp/out/shop.sql.gz'",
    'diskless --metrics-file /var/lib/node_exporter/diskless.prom run --to … --dir … -- …   # for node_exporter',
  ],
  serve: [
    'diskless serve --to s3://backups/x/ --dir /tmp/out > /tmp/diskless.env &',
    '. /tmp/diskless.env; tar -cf /tmp/out/etc.tar /etc; kill %1',
  ],
  snapshot: [
    'diskless snapshot --to s3://backups/hosts/ --all --compress zstd',
    'diskless snapshot --to s3://backups/hosts/ --volume vg0/data --snapshot-size 20%ORIGIN',
    'diskless snapshot --to s3://backups/hosts/ --method btrfs --mount /srv',
    'diskless snapshot --to s3://backups/hosts/ --all --dry-run                # the plan; nothing created',
  ],
  ls: ['diskless ls s3://backups/nightly/', 'diskless ls s3://backups/ --json'],
  verify: ['diskless verify s3://backups/nightly/2026-12-01/', 'diskless verify --deep s3://backups/nightly/      # every backup under the prefix, read back'],
  restore: [
    'diskless restore s3://backups/nightly/2026-12-01/ /srv/restore/',
    'diskless restore s3://backups/db/shop-2026-12-01.sql.gz /srv/restore/',
    "diskless restore --include 'db/**' --exclude '**/*.tmp' s3://backups/nightly/2026-12-01/ /srv/part/",
  ],
  prune: [
    'diskless prune s3://backups/nightly/ --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run',
    'diskless prune s3://backups/nightly/ --keep-last 3',
  ],
  'shim-path': ['diskless shim-path          # the LD_PRELOAD library that serve\'s export lines name'],
};

/** Appends the command's Examples section to its --help. */
export function addExamples(cmd: Command): void {
  const lines = EXAMPLES[cmd.name()];
  if (lines) cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}
