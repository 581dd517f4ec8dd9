import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LAUNCHER = path.join(ROOT, 'bin', 'diskless.js');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

/*
 * Node has no API to read V8's flags back. Of the launcher's flags, --no-opt shows from inside the
 * process: with it, %GetOptimizationStatus (a V8 intrinsic, under --allow-natives-syntax) sets bit
 * 2, "never optimise". The probe, preloaded with --import, prints that bit as the process exits,
 * after the CLI ran. (--optimize-for-size and --semi-space-growth-factor leave no such trace; which
 * commands get them is checked on the module, v8-flags.test.ts.) Runs the built CLI (`npm run build`).
 */
const dir = mkdtempSync(path.join(os.tmpdir(), 'diskless-launcher-'));
const PROBE = path.join(dir, 'probe.mjs');
writeFileSync(
  PROBE,
  "import { writeSync } from 'node:fs';\n" +
    "process.on('exit', () => { function probe() {} writeSync(2, `v8-probe never-optimize=${(%GetOptimizationStatus(probe) & 2) !== 0}\\n`); });\n",
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function neverOptimize(entry: string, args: string[]): Promise<boolean> {
  const { stderr, stdout } = await execFileAsync(process.execPath, ['--allow-natives-syntax', '--import', PROBE, entry, ...args]);
  expect(stdout).toContain('Usage: diskless');
  const line = /v8-probe never-optimize=(true|false)/.exec(stderr);
  expect(line, stderr).not.toBeNull();
  return line![1] === 'true';
}

describe('bin/diskless.js', () => {
  it.each([['get'], ['put']])('turns off V8\'s optimising compiler for `%s` before the CLI runs', async (command) => {
    expect(await neverOptimize(LAUNCHER, [command, '--help'])).toBe(true);
  });

  it('is what turns it off: the CLI started without the launcher optimises', async () => {
    expect(await neverOptimize(CLI, ['put', '--help'])).toBe(false);
  });
});
