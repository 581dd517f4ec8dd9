// A private MariaDB server for end-to-end tests of dump tools (test/e2e/tools-mariadb.test.ts): its own data
// directory under the temp dir, a Unix socket only (--skip-networking), no config file of the host (--no-defaults),
// started as a child of the test process and always stopped by it. Nothing here touches the system's MariaDB service.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/mariadb-fixture.sql: two databases, ~400,000 rows, a ~65 MB table, a view, a trigger, routines. */
export const MARIADB_FIXTURE = fileURLToPath(new URL('../fixtures/mariadb-fixture.sql', import.meta.url));
/** The databases the fixture creates; dumps and comparisons are limited to them. */
export const FIXTURE_DATABASES = ['shop', 'ledger'] as const;

/**
 * Server settings: small MyISAM/Aria caches so a server starts in about a second; an InnoDB buffer pool that holds
 * the whole fixture (~135 MB of tables) so dumps do not read from disk (the server stays near 300 MB of RSS); no
 * durability (test data).
 */
const SERVER_OPTIONS = [
  '--skip-name-resolve',
  '--character-set-server=utf8mb4',
  '--collation-server=utf8mb4_unicode_ci',
  '--innodb-buffer-pool-size=256M',
  '--innodb-log-file-size=64M',
  '--innodb-log-buffer-size=8M',
  '--innodb-flush-log-at-trx-commit=0',
  '--innodb-doublewrite=0',
  '--key-buffer-size=8M',
  '--aria-pagecache-buffer-size=8M',
  '--max-connections=40',
  '--max-allowed-packet=64M',
];

const INSTALL_HINT = 'the tests need mariadb-server, mariadb-client and mydumper (apt-get install mariadb-server mariadb-client mydumper)';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
const CLIENT_TIMEOUT_MS = 120_000;

export interface MariaDb {
  /** The directory holding data/, the socket, the pid file and the error log. */
  readonly dir: string;
  readonly socket: string;
  readonly errorLog: string;
  /** Pid of mariadbd. */
  readonly pid: number;
  /** Connection options for mydumper, myloader, mysqldump and mariadb: `--socket=… --user=root`. */
  readonly dumpArgs: readonly string[];
  /** Runs SQL with the mariadb client (batch mode, no column names); resolves with its stdout, rejects with stderr. */
  sql(query: string): Promise<string>;
  /** The rows of a query, as tab-separated fields (values must not contain tabs or newlines). */
  rows(query: string): Promise<string[][]>;
  /** `mariadb < file` */
  source(file: string): Promise<void>;
  /** mysqladmin shutdown, SIGKILL if it has not exited after 20 s, then removes `dir`. Safe to call twice, and after kill(). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: resolves once the process is gone. `dir` is kept: startMariaDb({ dir }) restarts it. */
  kill(): Promise<void>;
}

/**
 * Starts a private MariaDB: a new data directory (mariadb-install-db) in a new temp dir, or, with `dir`, the server of a
 * previous startMariaDb() again on its data (InnoDB crash recovery after kill()). Resolves once it answers queries;
 * rejects with the tail of its error log if it exits or does not answer within 60 s. Always stop() it (finally/afterAll).
 */
export async function startMariaDb(options: { dir?: string } = {}): Promise<MariaDb> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'diskless-mariadb-'));
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'mysqld.sock');
  const errorLog = join(dir, 'error.log');
  // mariadbd refuses to run as root unless told to; a non-root user runs it as itself.
  const asUser = process.getuid?.() === 0 ? ['--user=root'] : [];
  if (!existsSync(join(dataDir, 'mysql'))) {
    await runTool(
      'mariadb-install-db',
      ['--no-defaults', ...asUser, `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db',
        '--skip-name-resolve', '--innodb-log-file-size=64M', '--innodb-buffer-pool-size=64M'],
      { timeoutMs: START_TIMEOUT_MS },
    ).catch((err: NodeJS.ErrnoException) => {
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
      throw err.code === 'ENOENT' ? new Error(`mariadb-install-db not found: ${INSTALL_HINT}`, { cause: err }) : err;
    });
  }
  const server = spawn(
    'mariadbd',
    ['--no-defaults', ...asUser, `--datadir=${dataDir}`, `--socket=${socket}`, '--skip-networking',
      `--pid-file=${join(dir, 'mariadbd.pid')}`, `--log-error=${errorLog}`, `--tmpdir=${dir}`, ...SERVER_OPTIONS],
    { stdio: 'ignore' },
  );
  // If the test process ends without stop() (a crashed worker), take the server along.
  const killOnExit = () => server.kill('SIGKILL');
  process.once('exit', killOnExit);
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    const gone = () => {
      process.removeListener('exit', killOnExit);
      resolve();
    };
    server.once('exit', gone);
    // Not started at all (no mariadbd on PATH): 'error' instead of 'exit'.
    server.once('error', (err) => {
      spawnError = err;
      gone();
    });
  });

  const clientBase = ['--no-defaults', `--socket=${socket}`, '--user=root', '--default-character-set=utf8mb4'];
  const sql = (query: string) => runTool('mariadb', [...clientBase, '--batch', '--skip-column-names', '-e', query]);
  let stopped = false;
  const db: MariaDb = {
    dir,
    socket,
    errorLog,
    pid: server.pid!,
    dumpArgs: [`--socket=${socket}`, '--user=root'],
    sql,
    rows: async (query) => (await sql(query)).split('\n').filter((l) => l !== '').map((l) => l.split('\t')),
    source: async (file) => void (await runTool('mariadb', [...clientBase, '--batch'], { stdinFile: file, timeoutMs: 300_000 })),
    kill: async () => {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!stopped) {
        stopped = true;
        if (server.exitCode === null && server.signalCode === null) {
          await runTool('mysqladmin', ['--no-defaults', `--socket=${socket}`, '--user=root', 'shutdown'], { timeoutMs: STOP_TIMEOUT_MS }).catch(() => undefined);
          const timer = setTimeout(() => server.kill('SIGKILL'), STOP_TIMEOUT_MS);
          await exited;
          clearTimeout(timer);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilAnswering(server, exited, () => sql('SELECT 1'), errorLog);
  } catch (err) {
    if (spawnError) err = new Error(`cannot start mariadbd: ${spawnError.message}; ${INSTALL_HINT}`, { cause: spawnError });
    await db.kill();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return db;
}

async function waitUntilAnswering(server: ChildProcess, exited: Promise<void>, ping: () => Promise<unknown>, errorLog: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let gone = false;
  void exited.then(() => (gone = true));
  let last: unknown;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`mariadbd exited (status ${server.exitCode ?? server.signalCode}) while starting:\n${logTail(errorLog)}`);
    try {
      await ping();
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`mariadbd did not answer within ${START_TIMEOUT_MS / 1000} s (${String(last)}):\n${logTail(errorLog)}`);
}

function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no error log at ${file})`;
  }
}

/** Loads test/fixtures/mariadb-fixture.sql (or `file`) into the server; about 5 s. */
export async function loadMariaDbFixture(db: MariaDb, file = MARIADB_FIXTURE): Promise<void> {
  await db.source(file);
  // Settle the optimizer statistics now: mydumper --rows sizes its chunks from row estimates, and a background
  // recalculation between two dumps would change the chunk boundaries.
  const tables = await baseTables(db);
  await db.sql(`ANALYZE TABLE ${tables.map(quoteTable).join(', ')}`);
}

/** `db`.`table` names of the fixture databases' base tables, sorted. */
export async function baseTables(db: MariaDb): Promise<string[]> {
  const rows = await db.rows(
    `SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables ` +
      `WHERE table_schema IN (${FIXTURE_DATABASES.map((d) => `'${d}'`).join(', ')}) AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  return rows.map((r) => r[0]!);
}

function quoteTable(name: string): string {
  const dot = name.indexOf('.');
  return `\`${name.slice(0, dot)}\`.\`${name.slice(dot + 1)}\``;
}

/**
 * What a restore must reproduce, for comparing two servers: per base table its row count and CHECKSUM TABLE; the
 * views, triggers and routines by name; and results computed through each of them.
 */
export interface DatabaseSummary {
  tables: Record<string, { rows: number; checksum: string }>;
  views: string[];
  triggers: string[];
  routines: string[];
  /** Results through the view, the procedure's table, the function: they fail if those objects are broken. */
  probes: Record<string, string>;
}

export async function summarize(db: MariaDb): Promise<DatabaseSummary> {
  const tables: DatabaseSummary['tables'] = {};
  const names = await baseTables(db);
  const checksums = new Map((await db.rows(`CHECKSUM TABLE ${names.map(quoteTable).join(', ')}`)).map((r) => [r[0]!, r[1]!]));
  for (const name of names) {
    const [[count]] = (await db.rows(`SELECT COUNT(*) FROM ${quoteTable(name)}`)) as [[string]];
    tables[name] = { rows: Number(count), checksum: checksums.get(name) ?? 'missing' };
  }
  const inFixture = `IN (${FIXTURE_DATABASES.map((d) => `'${d}'`).join(', ')})`;
  const list = async (query: string) => (await db.rows(query)).map((r) => r.join('.'));
  return {
    tables,
    views: await list(`SELECT table_schema, table_name FROM information_schema.views WHERE table_schema ${inFixture} ORDER BY 1, 2`),
    triggers: await list(
      `SELECT trigger_schema, trigger_name, event_object_table, action_timing, event_manipulation FROM information_schema.triggers ` +
        `WHERE trigger_schema ${inFixture} ORDER BY 1, 2`,
    ),
    routines: await list(`SELECT routine_schema, routine_name, routine_type FROM information_schema.routines WHERE routine_schema ${inFixture} ORDER BY 1, 2`),
    probes: {
      customerTotals: await db.sql('SELECT COUNT(*), SUM(orders), SUM(spent) FROM shop.customer_totals'),
      accountBalances: await db.sql('SELECT COUNT(*), SUM(balance) FROM ledger.account_balances'),
      balanceOf42: await db.sql('SELECT ledger.balance_of(42)'),
      customerOrders7: await db.sql('CALL shop.customer_orders(7)'),
    },
  };
}

/** Runs a client tool; resolves with stdout, rejects with its status and stderr. Never inherits the test's stdin. */
export function runTool(
  file: string,
  args: readonly string[],
  options: { stdinFile?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const stdin = options.stdinFile ? openSync(options.stdinFile, 'r') : 'ignore';
  const child = spawn(file, [...args], { stdio: [stdin, 'pipe', 'pipe'], env: options.env ?? process.env });
  if (typeof stdin === 'number') closeSync(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? CLIENT_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${stderr.trim().slice(-4000)}`));
    });
  });
}

/**
 * The mydumper command line the tests and docs/tools/mariadb.md use: every database but the system ones (mysql, sys),
 * with triggers, routines and events, into `out`; with `log`, its log goes there at --verbose 3 (mydumperAttempts
 * reads it). mydumper 0.10 uses 4 threads by default.
 */
export function mydumperCommand(db: MariaDb, out: string, { log, extra = [] }: { log?: string; extra?: readonly string[] } = {}): string[] {
  return [
    'mydumper', ...db.dumpArgs, '--triggers', '--routines', '--events', '--regex', '^(?!(mysql|sys)\\.)', ...extra,
    ...(log ? ['--logfile', log, '--verbose', '3'] : []), '--outputdir', out,
  ];
}

/** What a step that runs mydumper gets from mydumperAttempts: pass both to mydumper (`--logfile`, `--verbose 3`). */
export interface MydumperAttempt {
  /** Call with mydumper's output directory before it starts (watchMydumperDeadlock). */
  watch: (outDir: string) => void;
  /** mydumper's log file for this attempt. */
  log: string;
}

/**
 * Runs a step that runs mydumper 0.10, at most 3 times, again only when mydumper failed by its own bugs: it deadlocked
 * and was killed (watchMydumperDeadlock), or it never dumped the routines of a database that has some in `expected`
 * (mydumperSkippedSchemaPost; `beforeRetry` then removes what the step stored). Any other failure or hang is the step's.
 */
export async function mydumperAttempts<T>(
  what: string,
  { logDir, expected, beforeRetry }: { logDir: string; expected: DatabaseSummary; beforeRetry?: () => Promise<void> },
  step: (attempt: MydumperAttempt) => Promise<T>,
): Promise<T> {
  const withRoutines = [...new Set(expected.routines.map((r) => r.split('.')[0]!))];
  for (let attempt = 1; ; attempt++) {
    let watchdog: { stop: () => boolean } | undefined;
    const log = join(logDir, `mydumper-${attempt}.log`);
    let result: T | undefined;
    let error: unknown;
    try {
      result = await step({ watch: (dir) => void (watchdog = watchMydumperDeadlock(dir)), log });
    } catch (err) {
      error = err;
    }
    let why: string;
    if (watchdog?.stop()) why = 'deadlocked at the end of the dump and was killed';
    else if (error !== undefined) throw error;
    else {
      const skipped = mydumperSkippedSchemaPost(log, withRoutines);
      if (skipped.length === 0) return result as T;
      why = `never dumped the routines of ${skipped.join(', ')} (its unlocked schema_post list)`;
      await beforeRetry?.();
    }
    if (attempt === 3) throw new Error(`${what}: mydumper failed by its own bugs in 3 attempts in a row; last: it ${why}`);
    console.warn(`${what}: mydumper ${why} (attempt ${attempt}); running it again`);
  }
}

/**
 * The databases of `databases` whose routines and events mydumper 0.10 never dumped, read from its log (`--logfile`,
 * `--verbose 3`): each dumped database's `-schema-post.sql` is a job that logs "dumping SP and VIEWs for `db`".
 * mydumper 0.10 can lose that job when it dumps several databases at once: its worker threads each prepend to the
 * global list `schema_post` with no lock (mydumper.c, dump_database_thread: `schema_post = g_list_prepend(…)`, while
 * the table and view lists beside it take a mutex). The file is then never created, locally or under diskless.
 */
export function mydumperSkippedSchemaPost(logFile: string, databases: readonly string[]): string[] {
  const log = readFileSync(logFile, 'utf8');
  return databases.filter((db) => !log.includes(`dumping SP and VIEWs for \`${db}\``));
}

/**
 * mydumper 0.10 sometimes deadlocks at the very end of a dump, with or without diskless: its main thread waits in
 * g_thread_join() for the last worker, which is stuck in g_async_queue_push(); every thread sleeps on a futex and
 * metadata.partial is never renamed. Plain local runs of mydumper --compress here, no diskless: none in 150 runs on
 * an idle machine, 1 in 100 with the CPU busy (cf. mydumper/mydumper#539; the developer brief saw it once too).
 * The kernel's wait channels tell it from a hang in diskless: a thread waiting for the uploader (in close) or for
 * the server waits on a socket, not on a futex.
 *
 * Watches the mydumper started with `--outputdir outDir` (only that one) and SIGKILLs it once all its threads have
 * been in futex waits for 3 checks in a row, `afterMs` after the watch began. stop() ends the watch and tells
 * whether it killed it.
 */
export function watchMydumperDeadlock(outDir: string, afterMs = 20_000): { stop: () => boolean } {
  const started = Date.now();
  let strikes = 0;
  let killed = false;
  const timer = setInterval(() => {
    if (Date.now() - started < afterMs || killed) return;
    const pid = mydumperWritingTo(outDir);
    strikes = pid !== undefined && allThreadsInFutexWait(pid) ? strikes + 1 : 0;
    if (pid !== undefined && strikes >= 3) {
      process.kill(pid, 'SIGKILL');
      killed = true;
    }
  }, 1_000);
  return {
    stop: () => {
      clearInterval(timer);
      return killed;
    },
  };
}

function mydumperWritingTo(outDir: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'mydumper') continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const i = argv.findIndex((a) => a === '--outputdir' || a === '-o');
      if (i >= 0 && argv[i + 1] === outDir) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function allThreadsInFutexWait(pid: number): boolean {
  try {
    const channels = readdirSync(`/proc/${pid}/task`).map((t) => readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8'));
    return channels.length > 0 && channels.every((c) => /futex/.test(c));
  } catch {
    return false;
  }
}
