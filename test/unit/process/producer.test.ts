import { describe, expect, it } from 'vitest';
import { ProducerError } from '../../../src/errors.js';
import { startProducer } from '../../../src/process/producer.js';
import { readFileSync } from 'node:fs';

/** Everything the command writes, until its stdout closes. */
const readOutput = (p: { output: { fd: number } }) => readFileSync(p.output.fd);

describe('startProducer', () => {
  it('streams the command\'s stdout and succeeds when it exits 0', async () => {
    const p = startProducer(['sh', '-c', 'printf hello; printf world']);
    expect(readOutput(p).toString()).toBe('helloworld');
    await expect(p.succeeded()).resolves.toBeUndefined();
  });

  it('fails with the exit status of a command that exits non-zero after writing', async () => {
    const p = startProducer(['sh', '-c', 'echo partial; exit 3']);
    readOutput(p);
    const err = await p.succeeded().catch((e) => e);
    expect(err).toBeInstanceOf(ProducerError);
    expect(err.exitStatus).toBe(3);
    expect(err.message).toBe("the command exited with status 3: sh -c 'echo partial; exit 3'");
  });

  it('names the signal that killed the command', async () => {
    const p = startProducer(['sh', '-c', 'kill -KILL $$']);
    readOutput(p);
    await expect(p.succeeded()).rejects.toThrow(/killed by SIGKILL/);
  });

  it('says when the command cannot be found', async () => {
    const p = startProducer(['no-such-command-xyz']);
    expect(readOutput(p).length).toBe(0);
    await expect(p.succeeded()).rejects.toThrow('cannot start no-such-command-xyz: command not found (check the name and PATH)');
  });

  it('stops a command that is still writing', async () => {
    const p = startProducer(['sh', '-c', 'while :; do echo y; done']);
    p.stop();
    const exit = await p.exited;
    expect(exit.signal).toBe('SIGTERM');
  });
});
