import type { TestContext } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test was skipped: printed by the reporter and by .ci/run's closing summary line. */
    skipReason?: string;
  }
}

/**
 * Skips the running test, saying why: the reason is shown beside the test in vitest's output and
 * in the closing line of .ci/run (from the JSON report's `meta`). A skip without a reason is
 * listed there as such.
 */
export function skipBecause(ctx: TestContext, reason: string): never {
  ctx.task.meta.skipReason = reason;
  console.log(`skipped "${ctx.task.name}": ${reason}`);
  return ctx.skip(reason);
}
