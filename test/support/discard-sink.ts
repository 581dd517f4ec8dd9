import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SINK = fileURLToPath(new URL('../../bench/discard-sink.mjs', import.meta.url));

export interface DiscardSink {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** SIGTERM; resolves with the totals the sink prints as it exits (bench/discard-sink.mjs). */
  stop(): Promise<Record<string, number>>;
}

/** Starts bench/discard-sink.mjs on a free loopback port (or DISKLESS_TEST_SINK_PORT), with `env` added to this process's. */
export async function startDiscardSink(env: Record<string, string> = {}): Promise<DiscardSink> {
  const child = spawn('node', [SINK, process.env['DISKLESS_TEST_SINK_PORT'] ?? '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /DISCARD_SINK_ENDPOINT=(\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the discard sink exited (${code}): ${stderr}`)));
  });
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      const line = stderr.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      return line ? (JSON.parse(line) as Record<string, number>) : {};
    },
  };
}
