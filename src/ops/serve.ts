import { UploadError } from '../errors.js';
import { exportLines } from '../native/preload-env.js';
import { Capture, type CaptureOptions, type CaptureResult } from './capture.js';

export interface ServeOptions extends CaptureOptions {
  /** Called once the socket is ready, with the `export …` lines a shell needs. */
  onReady: (exports: string[]) => void;
  /** Ending it (SIGINT/SIGTERM in the CLI) finalises like the end of `run`. */
  signal: AbortSignal;
  lingerMs?: number;
}

/**
 * `diskless serve`: the uploader without a command. Programs started elsewhere with the printed
 * environment write under the directory; when the signal ends the serve, every file is awaited and
 * the manifest is written if all were stored.
 */
export async function serve(options: ServeOptions): Promise<CaptureResult> {
  const capture = await Capture.open(options);
  try {
    options.onReady(exportLines(capture.preload));
    if (!options.signal.aborted) await new Promise((r) => options.signal.addEventListener('abort', r, { once: true }));
    const open = await capture.settle(options.lingerMs ?? 60_000);
    const failed = capture.failureSummary();
    if (failed) throw new UploadError(`${failed}; no manifest written`);
    if (open.length > 0) throw new UploadError(`${open.length} file(s) were still open when serve ended (${open.slice(0, 3).join(', ')}); no manifest written`);
    return await capture.commit({ mode: 'serve', command: null, exitStatus: null });
  } catch (err) {
    await capture.discard();
    throw err;
  } finally {
    await capture.close();
  }
}
