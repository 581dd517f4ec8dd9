import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { packageRoot } from '../../../src/native/load-addon.js';

/** Test harness for the shim: builds native/test/*.c programs and runs them. */

const execFileAsync = promisify(execFile);

export const NATIVE_TEST_DIR = path.join(packageRoot(), 'native', 'test');
export const WIRE_INCLUDE_DIR = path.join(packageRoot(), 'native', 'wire');

export interface ProgramSpec {
  /** Source file name without .c in native/test/. */
  name: string;
  /** Extra compiler flags (default: -O1). */
  cflags?: string[];
  /** Extra linker flags after the source. */
  ldflags?: string[];
}

export interface BuiltPrograms {
  dir: string;
  path(name: string): string;
  cleanup(): void;
}

async function ensureCompiler(): Promise<void> {
  try {
    await execFileAsync('cc', ['--version']);
  } catch (cause) {
    throw new Error('The shim tests compile C programs with `cc`, which is missing or broken: install a C compiler (gcc).', {
      cause,
    });
  }
}

async function cc(args: string[]): Promise<void> {
  try {
    await execFileAsync('cc', args, { maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`cc ${args.join(' ')} failed:\n${e.stderr ?? e.message}`);
  }
}

/**
 * Compiles the programs into a fresh temporary directory (in parallel), with -Wall -Wextra -Werror
 * so the tests stay warning-free too. `hooks_work_inside_library_constructor` is special: it is
 * built once as libctor.so and once as the program linked with it.
 */
export async function buildPrograms(specs: ProgramSpec[]): Promise<BuiltPrograms> {
  await ensureCompiler();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'diskless-shim-tests-'));
  const common = ['-std=gnu11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-I', NATIVE_TEST_DIR, '-I', WIRE_INCLUDE_DIR];
  const built = Promise.all(
    specs.map(async (spec) => {
      const src = path.join(NATIVE_TEST_DIR, `${spec.name}.c`);
      const out = path.join(dir, spec.name);
      const cflags = spec.cflags ?? ['-O1'];
      if (spec.name === 'hooks_work_inside_library_constructor') {
        const lib = path.join(dir, 'libctor.so');
        await cc([...common, ...cflags, '-DSHIM_TEST_LIBRARY', '-fPIC', '-shared', '-o', lib, src]);
        await cc([...common, ...cflags, '-o', out, src, `-L${dir}`, '-lctor', `-Wl,-rpath,${dir}`]);
        return;
      }
      await cc([...common, ...cflags, '-o', out, src, '-pthread', ...(spec.ldflags ?? [])]);
    }),
  );
  try {
    await built;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    path: (name) => path.join(dir, name),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The shim built with AddressSanitizer into dir (from the same sources and flags as binding.gyp's
 * diskless_shim, plus -fsanitize=address): its path, and the LD_PRELOAD that loads it (the ASan
 * runtime must come first). For tests of memory errors that a plain build does not show.
 */
export async function buildSanitizedShim(dir: string): Promise<{ shim: string; preload: string }> {
  await ensureCompiler();
  const root = packageRoot();
  const shimDir = path.join(root, 'native', 'shim');
  const sources = readdirSync(shimDir).filter((f) => f.endsWith('.c')).map((f) => path.join(shimDir, f));
  const shim = path.join(dir, 'libdiskless_shim_asan.so');
  await cc([
    '-std=c11', '-D_GNU_SOURCE', '-O1', '-g', '-fsanitize=address', '-fno-omit-frame-pointer', '-fPIC', '-shared', '-Wall', '-Wextra', '-Werror',
    '-U_FORTIFY_SOURCE', '-fvisibility=hidden', '-fno-strict-aliasing', '-I', WIRE_INCLUDE_DIR,
    `-Wl,--version-script=${path.join(shimDir, 'exports.map')}`, '-o', shim, ...sources, '-ldl', '-lpthread',
  ]);
  const { stdout } = await execFileAsync('cc', ['-print-file-name=libasan.so']);
  return { shim, preload: `${stdout.trim()}:${shim}` };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a program asynchronously (the uploader the tests run lives in this process, so a synchronous spawn
 * would deadlock), with stdin closed and a timeout.
 */
export function run(
  file: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: Buffer },
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (options.input && child.stdin) child.stdin.end(options.input);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Date.now() - started,
      });
    });
  });
}

/** Runs a shell command line (bash -c) the same way. */
export function sh(command: string, options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<RunResult> {
  return run('/bin/sh', ['-c', command], options);
}

/** Every regular file below dir (relative paths): after a shim test the virtual directory has none. */
export function regularFilesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(d, entry.name), r);
      else if (statSync(path.join(d, entry.name), { throwIfNoEntry: false })?.isFile()) found.push(r);
    }
  };
  walk(dir, '');
  return found;
}

/** The bytes native/test/shim_test.h's pattern(i, seed) produces. */
export function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed) % 251;
  return b;
}

/** One-line description of a failed run, for assertion messages. */
export function explain(r: RunResult): string {
  return `exit ${r.code}${r.signal ? ` (signal ${r.signal})` : ''}, stderr: ${r.stderr.trim() || '(empty)'}`;
}
