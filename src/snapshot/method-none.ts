import type { MethodEnv, PreparedSource } from './source.js';
import type { PathVolume } from './volume-plan.js';

/**
 * --method none: the live tree, as it changes. tar's exit 1 ("file changed as we read it") is
 * accepted: the user chose a copy without a snapshot, and was warned.
 */
export function prepareLive(v: PathVolume, env: MethodEnv): PreparedSource {
  env.log.warn(
    `${v.path}: --method none archives the LIVE tree without a snapshot: files written meanwhile may be torn or missing, ` +
      'and files that belong together may come from different moments',
  );
  return { dir: v.path, failed: new AbortController().signal, verify: async () => {}, allowChanged: true, details: { kind: 'none' } };
}
