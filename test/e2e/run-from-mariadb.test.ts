// myloader under `diskless run --from` (issue 12): a mydumper -t 4 --compress backup written under `diskless run --to`
// is loaded straight from S3 into a fresh server, --dir on a 1 MiB tmpfs (no local copy), and compared with the source
// (test/support/mariadb.ts: row counts and checksums of every table, views, triggers, routines).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless, type CliResult } from '../support/cli.js';
import { loadMariaDbFixture, startMariaDb, summarize, watchMydumperDeadlock, type DatabaseSummary, type MariaDb } from '../support/mariadb.js';
import { regularFiles, tinyTmpfs } from '../support/run-helpers.js';
import { cliEnv, createTestBucket, testS3 } from '../support/s3-test-env.js';

describe('myloader under diskless run --from, directory on a 1 MiB tmpfs', () => {
  let bucket: string;
  let source: MariaDb;
  let expected: DatabaseSummary;

  beforeAll(async () => {
    bucket = await createTestBucket('myfrom');
    source = await startMariaDb();
    await loadMariaDbFixture(source);
    expected = await summarize(source);
  }, 240_000);

  afterAll(async () => {
    await source?.stop();
  });

  async function diskless(mode: '--to' | '--from', name: string, command: (dir: string) => string[], watch?: (dir: string) => void): Promise<CliResult> {
    const vdir = tinyTmpfs();
    try {
      watch?.(vdir.dir);
      const r = await runDiskless(['run', '--endpoint-url', testS3().endpoint, mode, `s3://${bucket}/${name}/`, '--dir', vdir.dir, '--', ...command(vdir.dir)], {
        env: cliEnv(),
        timeoutMs: 170_000,
      });
      expect(regularFiles(vdir.dir), 'nothing may land in the directory').toEqual([]);
      return r;
    } finally {
      vdir.dispose();
    }
  }

  it('myloader -t 4 of a mydumper -t 4 --compress backup, read straight from S3, gives the same databases', async () => {
    const mydumper = (out: string) => [
      'mydumper', ...source.dumpArgs, '--triggers', '--routines', '--events', '--regex', '^(?!(mysql|sys)\\.)', '-t', '4', '--compress', '--outputdir', out,
    ];
    // mydumper 0.10 sometimes deadlocks at the end of a dump, with or without diskless (watchMydumperDeadlock): retried.
    for (let attempt = 1; ; attempt++) {
      let watchdog: { stop: () => boolean } | undefined;
      const r = await diskless('--to', 'dump', mydumper, (dir) => void (watchdog = watchMydumperDeadlock(dir)));
      if (!watchdog?.stop()) {
        expect(r.code, r.stderr).toBe(0);
        break;
      }
      if (attempt === 3) throw new Error('mydumper deadlocked in 3 attempts in a row');
    }
    const target = await startMariaDb();
    try {
      const r = await diskless('--from', 'dump', (dir) => ['myloader', ...target.dumpArgs, '--directory', dir, '--threads', '4']);
      expect(r.code, r.stderr).toBe(0);
      expect(await summarize(target)).toEqual(expected);
    } finally {
      await target.stop();
    }
  }, 400_000);
});
