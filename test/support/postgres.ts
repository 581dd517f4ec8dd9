// A throw-away PostgreSQL server for end-to-end tests of the real dump tools (pg_dump, pg_restore, pg_basebackup).
// initdb and postgres refuse to run as root, so the server runs as the `postgres` user (runuser), in temp dirs it
// owns, reachable only through a Unix socket (listen_addresses = ''). The tools themselves run as the test user
// (root) and connect as the database user `postgres` with trust authentication.
// Nothing here registers hooks: callers stop() every server they start (afterAll or finally).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the server binaries are (Debian keeps them out of PATH; /usr/bin/pg_dump is a Perl wrapper). */
export const PG_BIN = process.env['DISKLESS_TEST_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
/** The absolute path of a PostgreSQL program, e.g. pgTool('pg_dump'). */
export const pgTool = (name: string): string => join(PG_BIN, name);

/** The fixture database: see the header of the file. */
export const POSTGRES_FIXTURE = fileURLToPath(new URL('../fixtures/postgres-fixture.sql', import.meta.url));

/** Ports reserved for these servers. The server listens on its socket only; the port names the socket file. */
export const POSTGRES_PORTS = { first: 19100, last: 19199 } as const;

const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 30;

export interface StartOptions {
  /** Port (it names the socket file); default: one of 19100-19199 picked from the pid and a counter. */
  port?: number;
  /** Extra postgresql.conf settings (appended after the defaults, so they win). */
  settings?: Record<string, string | number>;
}

export interface PostgresServer {
  readonly dataDir: string;
  /** Directory of the Unix socket (PGHOST). */
  readonly socketDir: string;
  readonly port: number;
  /** PGHOST/PGPORT/PGUSER for the client tools (no PGDATABASE: pass -d). */
  readonly env: Record<string, string>;
  /** PID of the postmaster. */
  readonly pid: number;
  /** Runs SQL with psql (-X -At, ON_ERROR_STOP) in database `db` (default postgres); resolves to stdout, trimmed. */
  psql(sql: string, db?: string): Promise<string>;
  /** Runs an SQL file with psql in `db`. */
  psqlFile(file: string, db: string): Promise<string>;
  /** The last lines of the server log. */
  logTail(lines?: number): string;
  /** Fast shutdown (SIGKILL if it does not stop in 30 s), then removes the temp dirs. Idempotent; fine after kill(). */
  stop(): Promise<void>;
  /**
   * SIGKILL the postmaster, as a crash would. Its backends notice the death of their postmaster and exit on
   * their own; any still running after 5 s is SIGKILLed too. The data directory is left as a crash leaves it.
   */
  kill(): Promise<void>;
}

let portCounter = 0;
function pickPort(): number {
  const span = POSTGRES_PORTS.last - POSTGRES_PORTS.first + 1;
  return POSTGRES_PORTS.first + ((process.pid * 7 + portCounter++) % span);
}

/** A temp dir owned by the postgres user (mode 0700), for data directories and sockets. */
export function postgresOwnedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { uid, gid } = postgresUser();
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return dir;
}

let cachedUser: { uid: number; gid: number } | undefined;
function postgresUser(): { uid: number; gid: number } {
  if (cachedUser) return cachedUser;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) {
    throw new Error('No `postgres` user in /etc/passwd: install PostgreSQL (apt-get install postgresql), which creates it');
  }
  cachedUser = { uid: Number(fields[2]), gid: Number(fields[3]) };
  return cachedUser;
}

/**
 * initdb (trust authentication, UTF8, C.UTF-8) into a new temp dir, then starts the server on a Unix socket
 * only, set up for pg_dump -j and pg_basebackup: wal_level=replica, max_wal_senders, small shared_buffers.
 * Durability is off (fsync, synchronous_commit): the server is thrown away.
 */
export async function startPostgres(opts: StartOptions = {}): Promise<PostgresServer> {
  if (process.getuid?.() !== 0) throw new Error('startPostgres needs root (it runs the server as the postgres user with runuser)');
  const base = postgresOwnedTempDir('diskless-pg-');
  const dataDir = join(base, 'data');
  try {
    await exec('runuser', ['-u', 'postgres', '--', pgTool('initdb'), '-D', dataDir, '--auth=trust', '--username=postgres',
      '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'], { timeoutMs: 120_000 });
    appendSettings(dataDir, {
      wal_level: 'replica',
      max_wal_senders: 10,
      shared_buffers: '32MB',
      max_wal_size: '1GB',
      fsync: 'off',
      synchronous_commit: 'off',
      ...opts.settings,
    });
    return await startOn(dataDir, opts, [base]);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Starts a server on an existing data directory, e.g. a base backup extracted from base.tar: gives it to the
 * postgres user with mode 0700 (PostgreSQL refuses anything else), drops a stale postmaster.pid, and points it at a
 * new socket and port (the restored postgresql.conf still names the original's). The data dir's parents must
 * let the postgres user through (use postgresOwnedTempDir). stop() removes the socket dir, not the data dir.
 */
export async function startPostgresOn(dataDir: string, opts: StartOptions = {}): Promise<PostgresServer> {
  if (!existsSync(join(dataDir, 'PG_VERSION'))) throw new Error(`${dataDir} is not a PostgreSQL data directory (no PG_VERSION)`);
  const { uid, gid } = postgresUser();
  chownTree(dataDir, uid, gid);
  chmodSync(dataDir, 0o700);
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
  await exec('runuser', ['-u', 'postgres', '--', 'test', '-r', join(dataDir, 'PG_VERSION')]).catch(() => {
    throw new Error(`the postgres user cannot reach ${dataDir}: put it under a directory it can enter (postgresOwnedTempDir)`);
  });
  appendSettings(dataDir, opts.settings ?? {});
  return startOn(dataDir, opts, []);
}

/** Starts the server on dataDir with a fresh socket dir and port; `cleanup` dirs are removed by stop(). */
async function startOn(dataDir: string, opts: StartOptions, cleanup: string[]): Promise<PostgresServer> {
  const socketDir = postgresOwnedTempDir('diskless-pgsock-');
  const log = join(socketDir, 'server.log');
  const port = opts.port ?? pickPort();
  // Later lines of postgresql.conf win: these override whatever the (possibly restored) file says.
  appendSettings(dataDir, { listen_addresses: '', port, unix_socket_directories: socketDir });
  const dirs = [socketDir, ...cleanup];
  const logTail = (lines = 30): string => {
    try {
      return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  };
  try {
    await exec('runuser', ['-u', 'postgres', '--', pgTool('pg_ctl'), '-D', dataDir, '-l', log, '-w', '-t', String(START_TIMEOUT_S), 'start'], {
      timeoutMs: (START_TIMEOUT_S + 10) * 1000,
    });
  } catch (err) {
    const pid = readPostmasterPid(dataDir);
    if (pid) signal(pid, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start on ${dataDir} within ${START_TIMEOUT_S} s: ${(err as Error).message}\nserver log (last lines):\n${logTail()}`);
  }
  const pid = readPostmasterPid(dataDir);
  if (!pid) throw new Error(`PostgreSQL started but ${dataDir}/postmaster.pid has no pid\n${logTail()}`);
  const env = { PGHOST: socketDir, PGPORT: String(port), PGUSER: 'postgres' };
  let stopped = false;
  let killed = false;

  const crash = async (): Promise<void> => {
    const backends = childrenOf(pid);
    signal(pid, 'SIGKILL');
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline && [pid, ...backends].some(running)) await sleep(50);
    for (const p of backends) if (running(p)) signal(p, 'SIGKILL');
  };

  return {
    dataDir,
    socketDir,
    port,
    env,
    pid,
    logTail,
    psql: (sql, db = 'postgres') => exec(pgTool('psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-c', sql], { env }).then((o) => o.trim()),
    psqlFile: (file, db) => exec(pgTool('psql'), ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', file], { env, timeoutMs: 300_000 }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        if (!killed && running(pid)) {
          const pgCtlStop = ['-u', 'postgres', '--', pgTool('pg_ctl'), '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S), 'stop'];
          await exec('runuser', pgCtlStop, { timeoutMs: (STOP_TIMEOUT_S + 10) * 1000 }).catch(crash);
        }
      } finally {
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      }
    },
    kill: async () => {
      if (stopped || killed) return;
      killed = true;
      await crash();
    },
  };
}

function appendSettings(dataDir: string, settings: Record<string, string | number>): void {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${typeof v === 'number' ? v : `'${v.replace(/'/g, "''")}'`}`);
  if (lines.length > 0) appendFileSync(join(dataDir, 'postgresql.conf'), `\n# test/support/postgres.ts\n${lines.join('\n')}\n`);
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const name of readdirSync(path, { recursive: true, encoding: 'utf8' })) chownSync(join(path, name), uid, gid);
}

function readPostmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Running, i.e. existing and not a zombie (a killed server's backends may stay unreaped for a while). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Direct children of pid, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** SIGKILL after this long (default 120 s). */
  timeoutMs?: number;
}

/**
 * Runs a program (no shell) and resolves to its stdout; rejects with its exit status and stderr. `env` is added to
 * this process's environment. Large outputs are fine (up to 1 GiB).
 */
export function exec(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        env: { ...process.env, ...opts.env },
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: 'SIGKILL',
        maxBuffer: 1 << 30,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const how = err.killed ? 'killed (timeout?)' : `exit ${String((err as { code?: unknown }).code)}`;
        reject(new Error(`${file} ${args.join(' ')}: ${how}\n${stderr}`));
      },
    );
  });
}

/** Creates database `db` and loads the fixture into it; resolves to the load time in ms. */
export async function loadFixture(server: PostgresServer, db: string): Promise<number> {
  const started = Date.now();
  await server.psql(`CREATE DATABASE ${db}`);
  await server.psqlFile(POSTGRES_FIXTURE, db);
  return Date.now() - started;
}

/**
 * What a restore must reproduce, as one comparable object: every table and view (row count and an md5 of all
 * rows in a fixed order), every sequence's last value, and the large objects, functions and triggers.
 */
export interface Fingerprint {
  relations: Record<string, { rows: number; md5: string }>;
  sequences: Record<string, string | null>;
  largeObjects: Record<string, string>;
  functions: Record<string, string>;
  triggers: string[];
}

export async function fingerprint(server: PostgresServer, db: string): Promise<Fingerprint> {
  const user = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;
  const rels = (await server.psql(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${user} ORDER BY 1`,
    db,
  )).split('\n').filter(Boolean);
  const relations: Fingerprint['relations'] = {};
  if (rels.length > 0) {
    const sql = rels
      .map((r) => `SELECT '${r}', count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM ${r} t`)
      .join(' UNION ALL ');
    for (const line of (await server.psql(sql, db)).split('\n')) {
      const [name, rows, md5] = line.split('|');
      relations[name!] = { rows: Number(rows), md5: md5! };
    }
  }
  const pairs = async (sql: string): Promise<Record<string, string>> =>
    Object.fromEntries((await server.psql(sql, db)).split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('|')), l.slice(l.indexOf('|') + 1)]));
  const sequences = await pairs(`SELECT schemaname || '.' || sequencename, coalesce(last_value::text, 'null') FROM pg_sequences ORDER BY 1`);
  const largeObjects = await pairs(`SELECT oid::text, md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid`);
  const functions = await pairs(
    `SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', md5(p.prosrc)
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${user} ORDER BY 1`,
  );
  const triggers = (await server.psql(
    `SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
    db,
  )).split('\n').filter(Boolean);
  return { relations, sequences, largeObjects, functions, triggers };
}
