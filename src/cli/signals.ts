import { InterruptedError } from '../errors.js';

/**
 * The first SIGINT/SIGTERM aborts the returned signal, so the run aborts its uploads and
 * commits nothing; a second one exits at once (uploads left open are aborted by the next run).
 */
export function abortOnSignals(onSecond: (signal: NodeJS.Signals) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) return onSecond(sig);
    controller.abort(new InterruptedError(sig));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
