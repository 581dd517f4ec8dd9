import { defineConfig } from 'vitest/config';

// Also for the global setup, which runs in this process.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

export default defineConfig({
  test: {
    // Native code and child processes: forks are safer than worker threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // End-to-end files move gigabytes through one RGW on 2 cores: one file at a time.
    fileParallelism: false,
    // The SDK warns that its releases after January 2027 need Node 22; diskless pins one that runs on 20.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    // CI also writes a JSON report, from which .ci/run prints a plain "N passed, N failed" line.
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    hookTimeout: 180_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Starts (or finds) the Ceph RGW test server once for the whole run; see test/setup/global-rgw.ts.
          globalSetup: ['test/setup/global-rgw.ts'],
        },
      },
    ],
  },
});
