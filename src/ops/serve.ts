import { ProducerError, UploadError } from '../errors.js';
import { exportLines } from '../native/preload-env.js';
import { Capture, type CaptureOptions, type CaptureResult } from './capture.js';

export interface ServeOptions extends CaptureOptions {
  /** Called once the socket is ready, with the `export …` lines a shell needs. */
  onReady: (exports: string[]) => void;
  /**
   * Ending it (the first SIGINT/SIGTERM in the CLI) stops serve: no new files, the open ones may
   * finish within `lingerMs`, then the manifest. It does not abort the uploads.
   */
  signal: AbortSignal;
  /** After the stop, how long open files may still be written (default 60 s). */
  lingerMs?: number;
}

/**
 * `diskless serve`: the uploader without a command. Programs started elsewhere with the printed
 * environment write under the directory; when the signal ends the serve, every file is awaited and
 * the manifest is written if all were stored.
 */
export async function serve(options: ServeOptions): Promise<CaptureResult> {
  // The stop signal is not the uploads' abort signal: a stopped serve lets the open files finish.
  const { signal: stop, ...captureOptions } = options;
  const capture = await Capture.open(captureOptions);
  try {
    options.onReady(exportLines(capture.preload));
    if (!stop.aborted) await new Promise((r) => stop.addEventListener('abort', r, { once: true }));
    capture.stopAccepting();
    const lingerMs = options.lingerMs ?? 60_000;
    capture.ctx.log.info(`stopping: no new files; waiting up to ${lingerMs / 1000} s for ${capture.files.writing} open file(s), then the manifest`);
    const open = await capture.settle(lingerMs);
    if (open.length > 0) {
      const err = new ProducerError(
        `${open.length} file(s) were still open ${lingerMs / 1000} s (--linger) after serve was stopped: ` +
          `${open.slice(0, 5).join(', ')}${open.length > 5 ? ', …' : ''}; their uploads were aborted; no manifest written`,
      );
      await capture.failOpen(err);
      throw err;
    }
    const failed = capture.failureSummary();
    if (failed) throw new UploadError(`${failed}; no manifest written`);
    const unread = capture.readFailure();
    if (unread) throw unread;
    return await capture.commit({ mode: 'serve', command: null, exitStatus: null });
  } catch (err) {
    await capture.discard();
    throw err;
  } finally {
    await capture.close();
  }
}
