import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ProducerError } from '../errors.js';
import { rawPipe } from '../native/process-control.js';
import { displayCommand } from './command-runner.js';

export type Compression = 'zstd' | 'gzip';

/**
 * The archive flags: everything a restore needs to get the tree back as it was (xattrs of every
 * namespace, which carry ACLs on xfs as trusted.SGI_ACL_*; POSIX ACLs; SELinux labels; numeric
 * owners, since the restoring host may map names differently; holes of sparse files), and nothing
 * from other filesystems mounted below the tree.
 */
export function tarArgv(dir: string): string[] {
  return [
    'tar', '--create', '--file=-', `--directory=${dir}`,
    '--xattrs', '--xattrs-include=*', '--acls', '--selinux', '--numeric-owner', '--sparse', '--one-file-system',
    '.',
  ];
}

export function compressorArgv(compress: Compression): string[] {
  // -T0 zstd: all cores (tar and the upload are mostly waiting on I/O); gzip -6 is the tool's default.
  return compress === 'zstd' ? ['zstd', '-q', '-3', '-T0', '-c'] : ['gzip', '-c', '-6'];
}

export function archiveExtension(compress: Compression | undefined): string {
  return compress === 'zstd' ? '.tar.zst' : compress === 'gzip' ? '.tar.gz' : '.tar';
}

export interface TarStream {
  /** The read end of the archive stream (a raw pipe), for uploadStream's `{ fd }` source. */
  readonly output: { fd: number };
  /** The commands, for messages and the manifest: tar, then the compressor if any. */
  readonly commands: string[][];
  /** Resolves if every process exited 0 (tar exit 1, "file changed as we read it", if `allowChanged`). */
  succeeded(): Promise<void>;
  /** SIGTERM to every process still running, SIGKILL after `graceMs`; resolves when all have exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL, synchronously (process 'exit'). */
  killNow(): void;
  /** Closes our end of the pipe. */
  close(): void;
  /** Last lines tar (or the compressor) wrote to stderr. */
  stderrTail(): string;
}

interface Proc {
  argv: string[];
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
}

/**
 * Starts tar on `dir` (and a compressor after it), writing into a raw pipe whose read end goes
 * straight into the upload buffers. stdin is /dev/null; stderr is kept (last 8 KiB) for messages.
 */
export function startTar(dir: string, options: { compress?: Compression; allowChanged?: boolean; tarArgv?: string[] } = {}): TarStream {
  const commands: string[][] = [options.tarArgv ?? tarArgv(dir)];
  if (options.compress) commands.push(compressorArgv(options.compress));
  let stderr = '';
  const keep = (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  };
  const procs: Proc[] = [];
  // [tar stdout → compressor stdin] and [last stdout → us]: raw pipes, close-on-exec in this process.
  let upstreamRead: number | undefined;
  let outputFd = -1;
  try {
    for (let i = 0; i < commands.length; i++) {
      const [readFd, writeFd] = rawPipe();
      const argv = commands[i]!;
      const stdin = upstreamRead ?? 'ignore';
      let child: ChildProcess;
      try {
        child = spawn(argv[0]!, argv.slice(1), { stdio: [stdin, writeFd, 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      } finally {
        closeSync(writeFd);
        if (upstreamRead !== undefined) closeSync(upstreamRead);
        upstreamRead = undefined;
      }
      child.stderr?.on('data', keep);
      const exited = new Promise<Proc['exited'] extends Promise<infer T> ? T : never>((resolve) => {
        child.once('error', (error) => resolve({ code: null, signal: null, error }));
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      procs.push({ argv, child, exited });
      upstreamRead = readFd;
    }
    outputFd = upstreamRead!;
  } catch (err) {
    for (const p of procs) p.child.kill('SIGKILL');
    if (upstreamRead !== undefined) closeSync(upstreamRead);
    throw err;
  }

  const alive = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;
  let closed = false;
  return {
    output: { fd: outputFd },
    commands,
    async succeeded() {
      for (const p of procs) {
        const { code, signal, error } = await p.exited;
        const isTar = p === procs[0];
        if (error) throw new ProducerError(`cannot start ${p.argv[0]}: ${error.message}`, {}, { cause: error });
        if (code === 0) continue;
        if (isTar && code === 1 && options.allowChanged) continue;
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        throw new ProducerError(
          `${signal ? `${displayCommand(p.argv)} was killed by ${signal}` : `${displayCommand(p.argv)} exited with status ${code}`}${tail ? `: ${tail}` : ''}`,
          { exitStatus: code, signal },
        );
      }
    },
    async stop(graceMs = 5_000) {
      for (const p of procs) if (alive(p)) p.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        for (const p of procs) if (alive(p)) p.child.kill('SIGKILL');
      }, graceMs);
      await Promise.all(procs.map((p) => p.exited));
      clearTimeout(timer);
    },
    killNow() {
      for (const p of procs) if (alive(p)) p.child.kill('SIGKILL');
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        closeSync(outputFd);
      } catch {
        // already closed
      }
    },
    stderrTail: () => stderr,
  };
}
