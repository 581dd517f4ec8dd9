import { InterruptedError, ProducerError, UploadError, UsageError, describeError } from '../errors.js';
import { setChildSubreaper } from '../native/process-control.js';
import { checkInterposable } from '../process/command-check.js';
import { describeExit, reaped, startCommandTree, waitForDescendants, type CommandTree } from '../process/command-tree.js';
import { descendants, processName } from '../process/descendants.js';
import { commandEnv } from '../process/child-env.js';
import { displayCommand } from '../process/producer.js';
import { redactArgv } from '../util/redact.js';
import { Capture, type CaptureOptions, type CaptureResult } from './capture.js';
import { findLeftovers, removeLeftovers } from './dir-leftovers.js';
import { failureHints } from './tool-hints.js';

export interface RunOptions extends CaptureOptions {
  command: readonly string[];
  /** After the command exits, how long its descendants may still write files (default 60 s). */
  lingerMs?: number;
  /** After a file fails, how long the command may run on before it is stopped (default 5 s). */
  failureGraceMs?: number;
  /** Keep the AWS credential variables in the command's environment (default: removed; see child-env.ts). */
  passAwsEnv?: boolean;
}

/**
 * `diskless run`: runs the command with the shim preloaded, so every file it (or any descendant)
 * writes under the directory streams to its own object; waits for the command and every file;
 * then writes the manifest, last, only if the command exited 0 and every file was stored.
 * Otherwise nothing is committed (ProducerError: the command failed; UploadError: the upload did).
 */
export async function run(options: RunOptions): Promise<CaptureResult> {
  const [file] = options.command;
  if (!file) throw new UsageError('no command given after --');
  checkInterposable(file);
  const capture = await Capture.open(options);
  const { log } = capture.ctx;
  const display = displayCommand(options.command);
  let command: CommandTree | undefined;
  try {
    // Descendants orphaned by the command are re-parented to us, so we can wait for and stop them.
    setChildSubreaper(true);
    // Registered until run ends (dispose below): its orphans count too.
    command = startCommandTree(options.command, capture.env(commandEnv(process.env, { passAwsEnv: options.passAwsEnv ?? false })), options.signal);
    const stopTree = command.stop;
    let stopTimer: NodeJS.Timeout | undefined;
    capture.onFirstFailure(({ file: f, error }) => {
      log.warn(`${f.path} could not be stored (${describeError(error)}); stopping the command`);
      stopTimer = setTimeout(() => stopTree('SIGTERM'), options.failureGraceMs ?? 5_000);
    });

    const status = await command.exited;
    if (status.error) throw new ProducerError(`cannot start ${file}: ${status.error.message}`, {}, { cause: status.error });
    // Orphaned descendants (re-parented to us) may still open and write files: wait for them too.
    const lingerMs = options.lingerMs ?? 60_000;
    const deadline = Date.now() + lingerMs;
    await waitForDescendants(deadline);
    const open = await capture.settle(Math.max(0, deadline - Date.now()));
    clearTimeout(stopTimer);
    const lingering = descendants();
    let stragglers: UploadError | undefined;
    if (open.length > 0) {
      stragglers = new UploadError(
        `${open.length} file(s) were still open after the command exited (${open.slice(0, 3).join(', ')}), held by ` +
          `${lingering.map((p) => `${processName(p)}[${p}]`).join(', ') || 'a process that did not exit'}; no manifest written`,
      );
      // Abort their uploads first: a writer killed now must not look like one that finished its file.
      await capture.failOpen(stragglers);
      stopTree('SIGKILL');
      await capture.settle(10_000);
    }
    for (const pid of descendants(process.pid, 1)) reaped(pid);

    capture.removeBackupTree();
    const leftovers = findLeftovers(capture.dir);
    if (leftovers.length > 0) removeLeftovers(capture.dir, leftovers);
    if (options.signal?.aborted) throw options.signal.reason instanceof InterruptedError ? options.signal.reason : new InterruptedError('SIGTERM');
    if (stragglers) throw stragglers;
    // What the command wrote may rest on a stored file it could not read whole: no backup of that.
    if (status.code !== 0) await capture.checkUnreadAfterFailure();
    const unread = capture.readFailure();
    if (unread) throw unread;
    const failed = capture.failureSummary();
    const commandFailed = () =>
      new ProducerError(
        describeExit(status, display),
        { exitStatus: status.code, signal: status.signal },
        { hints: failureHints(options.command) },
      );
    if (failed && capture.failedByProgram()) {
      // A dead writer or a refusal: the program's doing. Its own exit status, if it failed, comes first.
      if (status.code !== 0) {
        const e = commandFailed();
        throw new ProducerError(`${e.message}; ${failed}; no manifest written`, { exitStatus: status.code, signal: status.signal }, { hints: e.hints });
      }
      throw new ProducerError(`${failed}; no manifest written`, {}, { hints: failureHints(options.command) });
    }
    if (failed) throw new UploadError(`${failed}; no manifest written`);
    if (leftovers.length > 0) {
      throw new ProducerError(
        `${leftovers.length} file(s) were written to the local disk under ${capture.dir} behind the shim's back, so they are not in ` +
          `the backup: ${leftovers.slice(0, 5).join(', ')}${leftovers.length > 5 ? ', …' : ''} (removed now; a statically linked or ` +
          `setuid program, or a symlink/fifo made without the C library?); no manifest written`,
      );
    }
    if (status.code !== 0) {
      const e = commandFailed();
      throw new ProducerError(`${e.message}; no manifest written`, { exitStatus: status.code, signal: status.signal }, { hints: e.hints });
    }
    return await capture.commit({ mode: 'run', command: redactArgv(options.command), exitStatus: 0 });
  } catch (err) {
    await capture.discard();
    throw err;
  } finally {
    command?.dispose();
    setChildSubreaper(false);
    await capture.close();
  }
}
