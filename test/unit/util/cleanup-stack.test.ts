import { describe, expect, it } from 'vitest';
import { CleanupStack } from '../../../src/util/cleanup-stack.js';

describe('CleanupStack', () => {
  it('runs undo steps in reverse order of registration', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    for (const name of ['remove snapshot', 'unmount', 'stop tar']) stack.defer({ name, run: async () => void order.push(name) });
    expect(await stack.dispose()).toEqual([]);
    expect(order).toEqual(['stop tar', 'unmount', 'remove snapshot']);
  });

  it('runs every step even when one fails, and returns the failures', async () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.defer({ name: 'thaw', run: async () => void order.push('thaw') });
    stack.defer({ name: 'unmount', run: async () => { throw new Error('target is busy'); } });
    stack.defer({ name: 'stop tar', run: async () => void order.push('stop tar') });
    const failures = await stack.dispose();
    expect(order).toEqual(['stop tar', 'thaw']);
    expect(failures.map((f) => f.name)).toEqual(['unmount']);
  });

  it('runs each step once, however often it is disposed', async () => {
    let runs = 0;
    const stack = new CleanupStack();
    stack.defer({ name: 'x', run: async () => void runs++ });
    await Promise.all([stack.dispose(), stack.dispose()]);
    await stack.dispose();
    expect(runs).toBe(1);
  });

  it('releases a step early, and keeps it for dispose if releasing fails', async () => {
    const order: string[] = [];
    let fail = true;
    const stack = new CleanupStack();
    const first = { name: 'a', run: async () => void order.push('a') };
    const flaky = { name: 'b', run: async () => { if (fail) throw new Error('busy'); order.push('b'); } };
    stack.defer(first);
    stack.defer(flaky);
    await expect(stack.release(flaky)).rejects.toThrow('busy');
    expect(stack.size).toBe(2);
    fail = false;
    await stack.dispose();
    expect(order).toEqual(['b', 'a']);
  });

  it('runs the synchronous fallbacks, in reverse order, when the process exits', () => {
    const order: string[] = [];
    const stack = new CleanupStack();
    stack.defer({ name: 'lvremove', run: async () => {}, runSync: () => void order.push('lvremove') });
    stack.defer({ name: 'umount', run: async () => {}, runSync: () => void order.push('umount') });
    const before = process.listenerCount('exit');
    stack.bindToExit(() => {});
    expect(process.listenerCount('exit')).toBe(before + 1);
    process.emit('exit', 0);
    expect(order).toEqual(['umount', 'lvremove']);
    stack.unbindExit();
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('removes a deferred step without running it', async () => {
    const stack = new CleanupStack();
    let ran = false;
    const cancel = stack.defer({ name: 'x', run: async () => void (ran = true) });
    cancel();
    await stack.dispose();
    expect(ran).toBe(false);
  });
});
