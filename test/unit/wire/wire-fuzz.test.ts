import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { skipBecause } from '../../support/skip.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SECONDS = 15;

async function hasLibFuzzer(): Promise<string | undefined> {
  try {
    await run('clang', ['--version']);
  } catch {
    return 'clang is not installed (apt-get install clang libclang-rt-14-dev)';
  }
  return undefined;
}

describe('the C side of the wire protocol under libFuzzer', () => {
  it(`encodes frames and parses the uploader's answers without a crash or sanitizer report for ${SECONDS} s`, async (ctx) => {
    const missing = await hasLibFuzzer();
    if (missing) skipBecause(ctx, missing);
    mkdirSync(`${ROOT}build/fuzz`, { recursive: true });
    const bin = `${ROOT}build/fuzz/wire_fuzz`;
    try {
      await run('clang', ['-g', '-O1', '-fsanitize=fuzzer,address,undefined', '-fno-sanitize-recover=undefined', `${ROOT}native/fuzz/wire_fuzz.c`, '-o', bin]);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      if (/cannot find .*libclang_rt\.fuzzer|fuzzer.*No such file/i.test(stderr)) skipBecause(ctx, 'libFuzzer runtime missing (apt-get install libclang-rt-14-dev)');
      throw err;
    }
    const out = await run(bin, [`-max_total_time=${SECONDS}`, '-print_final_stats=1'], { maxBuffer: 16 << 20 }).catch((e: { stderr?: string; code?: number }) => {
      throw new Error(`the fuzzer found a crash (exit ${e.code}):\n${(e.stderr ?? '').split('\n').slice(-40).join('\n')}`);
    });
    const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(out.stderr)?.[1] ?? 0);
    expect(runs).toBeGreaterThan(10_000);
  }, 90_000);
});
