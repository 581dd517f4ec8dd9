import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Identity } from '../crypto/recipients.js';
import { BackupVerifyError, InterruptedError, ProducerError, UsageError } from '../errors.js';
import type { BackupTree } from '../ingest/backup-tree.js';
import { DEFAULT_READ_REQUESTS, IngestServer } from '../ingest/ingest-server.js';
import { describeReadFailures, type ReadFailure } from '../ingest/read-back.js';
import { VirtualFiles } from '../ingest/virtual-files.js';
import { preloadEnv } from '../native/preload-env.js';
import { reapChild, setChildSubreaper } from '../native/process-control.js';
import { shimPath } from '../native/shim-path.js';
import { checkInterposable } from '../process/command-check.js';
import { describeExit, safeKill, startCommandTree, waitForDescendants, type CommandTree } from '../process/command-tree.js';
import { commandEnv } from '../process/child-env.js';
import { descendants } from '../process/descendants.js';
import { displayCommand } from '../process/producer.js';
import { parseS3Url } from '../s3/s3-url.js';
import { MemoryBudget } from '../upload/memory-budget.js';
import { DEFAULT_MEMORY_BUDGET, planParts } from '../upload/part-planner.js';
import { Limiter } from '../util/limiter.js';
import { backupReads, openBackupTree } from './backup-source.js';
import { prepareDir } from './capture.js';
import { openSession, type SessionOptions } from './session.js';

export interface RunFromOptions extends SessionOptions {
  /** The backup: a run/serve prefix (`s3://BUCKET/PREFIX/`) with a manifest. */
  from: string;
  /** Where the program sees the backup's files: an empty or absent directory. */
  dir: string;
  command: readonly string[];
  shimLogLevel?: number;
  passAwsEnv?: boolean;
  /** After the command exits, how long its descendants may still run (default 60 s). */
  lingerMs?: number;
  signal?: AbortSignal;
  /** The memory budget of the reads' read-ahead (default DEFAULT_MEMORY_BUDGET, 48 MiB); each open file also holds one 1 MiB buffer of its own. */
  memory?: number;
  /** age identities for an encrypted backup: its files are decrypted as the command reads them. */
  identities?: readonly Identity[];
}

export interface RunFromResult {
  url: string;
  files: number;
  elapsedMs: number;
}

/**
 * `diskless run --from`: the command sees the backup's files under `dir` (placeholders; see
 * BackupTree) and reads each one straight from S3 through the shim (read-session.ts); nothing is
 * written to local disk. Fails (BackupVerifyError, exit 6) when a file's bytes did not check out or
 * could not be fetched, naming it, even if the command ignored its read error; otherwise fails as
 * the command did (ProducerError, exit 5).
 */
export async function runFrom(options: RunFromOptions): Promise<RunFromResult> {
  const started = Date.now();
  const [file] = options.command;
  if (!file) throw new UsageError('no command given after --');
  checkInterposable(file);
  parseS3Url(options.from, '--from'); // a bad URL is refused before anything is asked of the store
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  options.signal?.addEventListener('abort', () => abort.abort(options.signal!.reason), { once: true });
  const session = await openSession(options, DEFAULT_READ_REQUESTS + 2);
  const { store, retry, log } = session;
  let tree: BackupTree | undefined;
  let server: IngestServer | undefined;
  let dir: string | undefined;
  let command: CommandTree | undefined;
  try {
    const backup = await openBackupTree(session, options.from, abort.signal, options.identities);
    const url = backup.url;
    tree = backup.tree;
    const bucket = tree.bucket;
    dir = prepareDir(options.dir, 'where it shows the files of the backup');
    tree.materialise(dir);

    const token = randomBytes(32).toString('hex');
    const failures: ReadFailure[] = [];
    // One budget for every read's read-ahead (nothing is written: no upload shares it).
    const memory = new MemoryBudget(options.memory ?? DEFAULT_MEMORY_BUDGET);
    const reads = backupReads(backup, { store, retry, log }, new Limiter(DEFAULT_READ_REQUESTS), memory, abort.signal, failures);
    // The write side of the server is never used: the shim refuses every write (EROFS), and so does the server.
    const files = new VirtualFiles({ store, bucket, prefix: '', settings: {}, retry, log });
    server = await IngestServer.listen({
      files,
      ctx: { store, budget: memory, requests: new Limiter(1), retry, log },
      plan: planParts(),
      bucket,
      settings: {},
      signal: abort.signal,
      onFailure: () => undefined,
      token,
      reads,
    });
    server.stopAccepting();
    log.info(`${url}: ${tree.files} file(s) under ${dir}, read from S3 as the command reads them`);

    setChildSubreaper(true);
    const env = preloadEnv(commandEnv(process.env, { passAwsEnv: options.passAwsEnv ?? false }), {
      shim: shimPath(),
      socket: server.socketPath,
      readSocket: server.readSocketPath,
      dir,
      token,
      standin: server.standinDir,
      logLevel: options.shimLogLevel ?? 1,
      read: 'only',
    });
    command = startCommandTree(options.command, env, options.signal);
    const status = await command.exited;
    if (status.error) throw new ProducerError(`cannot start ${file}: ${status.error.message}`, {}, { cause: status.error });
    await waitForDescendants(Date.now() + (options.lingerMs ?? 60_000));
    for (const pid of descendants(process.pid, 1)) {
      safeKill(pid, 'SIGKILL');
      try {
        reapChild(pid);
      } catch {
        // not ours to wait for
      }
    }
    if (options.signal?.aborted) throw options.signal.reason instanceof InterruptedError ? options.signal.reason : new InterruptedError('SIGTERM');
    // The command failed: maybe on damage it saw before the end of a file, where its check would have run.
    if (status.code !== 0) await reads.unchecked.check(reads, url);
    if (failures.length > 0) {
      throw new BackupVerifyError(
        `${failures.length} file(s) of ${url} could not be read whole: ${describeReadFailures(failures)}; ` +
          `the command${status.code === 0 ? ' exited 0 but' : ''} read damaged or partial data (diskless verify --deep ${url} checks every object)`,
      );
    }
    if (status.code !== 0) {
      throw new ProducerError(describeExit(status, displayCommand(options.command)), { exitStatus: status.code, signal: status.signal });
    }
    return { url, files: tree.files, elapsedMs: Date.now() - started };
  } finally {
    command?.dispose();
    abort.abort();
    setChildSubreaper(false);
    await server?.close();
    if (tree && dir) {
      const left = tree.remove(dir);
      if (left.length > 0) log.warn(`left under ${dir} by the command: ${left.slice(0, 5).join(', ')}${left.length > 5 ? ', …' : ''}`);
    }
    session.close();
  }
}
