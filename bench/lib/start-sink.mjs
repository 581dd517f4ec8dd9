// The discard sink (bench/discard-sink.mjs) for the JavaScript benches, as bench/lib/discard-sink.sh starts it for
// the shell ones: a child process on SINK_PORT (0, a free port, by default); resolves once it prints its endpoint.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** @returns {Promise<{ child: import('node:child_process').ChildProcess, endpoint: string }>} */
export function startSink(port = process.env.SINK_PORT ?? '0') {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('../discard-sink.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, port], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /DISCARD_SINK_ENDPOINT=(\S+)/.exec(out);
      if (m) resolve({ child, endpoint: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`the discard sink exited (${code}) before it was ready`)));
  });
}
