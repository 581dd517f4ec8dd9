#!/usr/bin/env bash
# A nightly backup with diskless: dump, keep what the retention policy keeps, then read back the
# night's backup. Run it from cron or a systemd timer (see cron.txt, systemd/), as a user with
# credentials in the environment or a profile (--profile). Each step has its own exit code:
#   run 0 = backup committed;   prune 4 = some objects could not be deleted (named);
#   verify 6 = the backup did not verify (missing, damaged, broken content).
# Restore a night later with:  diskless restore s3://$BUCKET/$HOST/pg/2026-12-01/ /srv/restore/
set -euo pipefail

BUCKET=${BUCKET:-backups}
HOST=$(hostname)
SERIES="s3://$BUCKET/$HOST/pg"
TONIGHT="$SERIES/$(date -u +%F)/"
DUMPDIR=/run/diskless-dump      # nothing lands there: it may sit on a tiny tmpfs

# 1. The dump, streamed: the manifest is written last, only if pg_dump exited 0.
diskless run --to "$TONIGHT" --dir "$DUMPDIR" -- pg_dump -Fd -j 4 -f "$DUMPDIR/db" shop

# 2. Retention: 7 daily, 4 weekly, 12 monthly backups of this series; failed runs older than a day
#    go too. The newest backup is always kept. (Use --dry-run first to see the plan.)
diskless prune "$SERIES/" --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --incomplete-after 24h

# 3. Read tonight's backup back: checksums, and pg_restore --list of the directory archive.
diskless verify --deep "$TONIGHT"
