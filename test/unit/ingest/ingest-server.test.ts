import { describeError } from '../../../src/errors.js';
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IngestServer } from '../../../src/ingest/ingest-server.js';
import { VirtualFiles } from '../../../src/ingest/virtual-files.js';
import { planParts } from '../../../src/upload/part-planner.js';
import { MiB } from '../../../src/util/size.js';
import { encodeFrame } from '../../../src/wire/frame-codec.js';
import { FakeS3Error, MemoryObjectStore } from '../../fakes/memory-object-store.js';
import { collect, pseudoRandom, testContext } from '../../support/uploader.js';
import { connectTo, readFrame, request, writeFile } from '../../support/wire-client.js';

const token = 'a'.repeat(64);
const { EPERM, EIO, ENOENT, EINVAL, EBUSY, EACCES, EEXIST } = constants.errno;
const O_WRONLY_CREAT_TRUNC = 0o1101;
const O_WRONLY_CREAT_EXCL = 0o301;
const O_APPEND = 0o2000;

let servers: IngestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(store = new MemoryObjectStore(), extra: Partial<Parameters<typeof IngestServer.listen>[0]> = {}) {
  const ctx = testContext(store);
  const files = new VirtualFiles({ store, bucket: 'bkt', prefix: 'run/', settings: {}, retry: ctx.retry, log: ctx.log });
  const failures: string[] = [];
  const server = await IngestServer.listen({
    files,
    ctx,
    plan: planParts({ partSize: 5 * MiB }),
    bucket: 'bkt',
    settings: {},
    signal: new AbortController().signal,
    token,
    onFailure: (f) => failures.push(f.path),
    ...extra,
  });
  servers.push(server);
  return { server, store, files, failures };
}

describe('the ingest server', () => {
  it('stores a virtual file under the prefix and reports its size in the RESULT', async () => {
    const { server, store } = await start();
    const data = await collect(pseudoRandom(12 * MiB));
    const { reply, result } = await writeFile(server.socketPath, token, 'db/table.sql', data);
    expect(reply?.fields).toMatchObject({ err: 0 });
    expect(result).toMatchObject({ name: 'RESULT', fields: { err: 0, size: BigInt(12 * MiB) } });
    expect(store.data('bkt', 'run/db/table.sql')?.equals(data)).toBe(true);
  });

  it('refuses a peer without the run token with EACCES and keeps serving others', async () => {
    const { server, store } = await start();
    const { reply } = await writeFile(server.socketPath, 'b'.repeat(64), 'x', Buffer.from('x'));
    expect(reply?.fields).toMatchObject({ err: EACCES });
    expect(server.refused).toBe(1);
    await writeFile(server.socketPath, token, 'y', Buffer.from('y'));
    expect(store.keys('bkt')).toEqual(['run/y']);
  });

  it('refuses a peer the peer check rejects (another uid) with EACCES', async () => {
    const { server, store } = await start(undefined, { peerCheck: () => 'another uid' });
    const { reply } = await writeFile(server.socketPath, token, 'x', Buffer.from('x'));
    expect(reply?.fields).toMatchObject({ err: EACCES });
    expect(store.keys('bkt')).toEqual([]);
    expect(server.refused).toBe(1);
  });

  it('closes a connection that sends a malformed frame, and keeps serving', async () => {
    const { server, store } = await start();
    const s = await connectTo(server.socketPath);
    const bad = encodeFrame('OPEN', { token, path: 'x', flags: 1, mode: 0, pid: 1 });
    bad.writeUInt32LE(3, 0); // length shorter than the fields
    s.write(bad);
    expect(await readFrame(s)).toBeUndefined();
    await writeFile(server.socketPath, token, 'ok', Buffer.from('fine'));
    expect(store.data('bkt', 'run/ok')?.toString()).toBe('fine');
    expect(server.refused).toBe(1);
  });

  it('serves a connection whose first frame was only partly queued when it was accepted (the rest came later)', async () => {
    const { server, store } = await start();
    const open = encodeFrame('OPEN', { token, path: 'pieces', flags: O_WRONLY_CREAT_TRUNC, mode: 0o644, pid: process.pid });
    // Another process, so that the first 5 bytes are queued before this one accepts the connection (they are sent
    // right after connect(2)); the rest comes once the uploader has surely taken them and found the frame incomplete.
    const script = [
      'import socket, sys, time',
      'frame = bytes.fromhex(sys.argv[2])',
      's = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(frame[:5]); time.sleep(0.2); s.sendall(frame[5:])',
      'reply = s.recv(16)',
      's.sendall(b"in pieces"); s.shutdown(socket.SHUT_WR)',
      'while s.recv(4096): pass',
      'sys.stdout.write(reply.hex())',
    ].join('\n');
    const { stdout: out } = await promisify(execFile)('python3', ['-c', script, server.socketPath, open.toString('hex')]);
    // REPLY: length 8, type 101, version 1, err 0 (then the HANDLE, read and dropped with the RESULT).
    expect(out.slice(0, 24)).toBe('0800000065000100' + '00000000');
    await vi.waitFor(() => expect(store.data('bkt', 'run/pieces')?.toString()).toBe('in pieces'));
  });

  it('refuses to append to a stored object with EPERM', async () => {
    const { server } = await start();
    await writeFile(server.socketPath, token, 'blobs.toc', Buffer.from('one'));
    const { reply } = await writeFile(server.socketPath, token, 'blobs.toc', Buffer.from('two'), O_WRONLY_CREAT_TRUNC | O_APPEND);
    expect(reply?.fields).toMatchObject({ err: EPERM });
  });

  it('accepts reading and writing opens (random-access files the shim sends at close) and refuses names that cannot be keys', async () => {
    const { server } = await start();
    expect((await writeFile(server.socketPath, token, 'x', Buffer.from('x'), 0o1102)).reply?.fields).toMatchObject({ err: 0 });
    expect((await writeFile(server.socketPath, token, '../escape', Buffer.from('x'))).reply?.fields).toMatchObject({ err: EINVAL });
  });

  it('answers an open without O_CREAT of a file that does not exist with ENOENT', async () => {
    const { server } = await start();
    const O_WRONLY_TRUNC = 0o1001;
    expect((await writeFile(server.socketPath, token, 'missing', Buffer.from('x'), O_WRONLY_TRUNC)).reply?.fields).toMatchObject({ err: ENOENT });
  });

  it('counts how many files were being written at the same time', async () => {
    const { server, files } = await start();
    const sockets = await Promise.all(['a', 'b', 'c'].map(async (path) => {
      const s = await connectTo(server.socketPath);
      s.write(encodeFrame('OPEN', { token, path, flags: O_WRONLY_CREAT_TRUNC, mode: 0o644, pid: 1 }));
      await readFrame(s);
      return s;
    }));
    expect(files.writing).toBe(3);
    await Promise.all(sockets.map(async (s) => {
      expect((await readFrame(s))?.name).toBe('HANDLE');
      const result = readFrame(s);
      s.end('data');
      expect((await result)?.fields).toMatchObject({ err: 0 });
    }));
    await writeFile(server.socketPath, token, 'd', Buffer.from('later'));
    expect(files.writing).toBe(0);
    expect(files.peakWriting).toBe(3);
  });

  it('refuses a second writer of a file still being written with EBUSY, and an O_EXCL open of it with EEXIST', async () => {
    const { server } = await start();
    const s = await connectTo(server.socketPath);
    s.write(encodeFrame('OPEN', { token, path: 'busy', flags: O_WRONLY_CREAT_TRUNC, mode: 0o644, pid: 1 }));
    expect((await readFrame(s))?.fields).toMatchObject({ err: 0 });
    const { reply } = await writeFile(server.socketPath, token, 'busy', Buffer.from('second'));
    expect(reply?.fields).toMatchObject({ err: EBUSY });
    // A lock file or mkstemp's retry loop tells "exists" by EEXIST, whether or not the file is still being written.
    const excl = await writeFile(server.socketPath, token, 'busy', Buffer.from('third'), O_WRONLY_CREAT_EXCL);
    expect(excl.reply?.fields).toMatchObject({ err: EEXIST });
    s.destroy();
  });

  it('reports a failed upload as EIO in the RESULT and drains the rest of the input', async () => {
    const store = new MemoryObjectStore();
    store.failWhen('uploadPart', () => true, new FakeS3Error('AccessDenied', 403));
    const { server, failures } = await start(store);
    const { result } = await writeFile(server.socketPath, token, 'big.bin', await collect(pseudoRandom(30 * MiB)));
    expect(result).toMatchObject({ name: 'RESULT', fields: { err: EIO } });
    expect(result?.name === 'RESULT' && result.fields.message.toString()).toMatch(/AccessDenied/);
    expect(failures).toEqual(['big.bin']);
    expect(store.uploads.size).toBe(0);
  });

  it('with --close received, sends RESULT 0 once every byte is in memory, before the object is stored, and the file counts as being written until it is', async () => {
    const store = new MemoryObjectStore();
    let letPut!: () => void;
    const putHeld = new Promise<void>((r) => (letPut = r));
    const put = store.putObject.bind(store);
    store.putObject = async (...args) => (await putHeld, put(...args));
    const { server, files } = await start(store, { closeWhen: 'received' });
    const data = await collect(pseudoRandom(3 * MiB));
    const { result } = await writeFile(server.socketPath, token, 'early.bin', data);
    expect(result).toMatchObject({ name: 'RESULT', fields: { err: 0, size: BigInt(3 * MiB) } });
    expect(store.keys('bkt')).toEqual([]);
    expect(files.list().map((f) => [f.path, f.state])).toEqual([['early.bin', 'writing']]);
    expect(files.stillOpen()).toEqual([]);
    letPut();
    await files.idle();
    expect(store.data('bkt', 'run/early.bin')?.equals(data)).toBe(true);
    expect(files.list().map((f) => [f.path, f.state])).toEqual([['early.bin', 'committed']]);
  });

  it('with --close received, a PutObject refused after the RESULT still fails the file, with the store\'s refusal', async () => {
    const store = new MemoryObjectStore();
    store.failWhen('put', () => true, new FakeS3Error('AccessDenied', 403));
    const { server, files, failures } = await start(store, { closeWhen: 'received' });
    const { result } = await writeFile(server.socketPath, token, 'refused.bin', Buffer.from('bytes the store refuses'));
    expect(result).toMatchObject({ name: 'RESULT', fields: { err: 0 } });
    await files.idle();
    expect(failures).toEqual(['refused.bin']);
    expect(describeError(files.failures()[0]?.error)).toMatch(/AccessDenied/);
    expect(store.keys('bkt')).toEqual([]);
  });

  it('answers SYNC of a file still held open at once (no wait that could deadlock), of an unknown name with ENOENT, and of a failed file with its errno', async () => {
    const store = new MemoryObjectStore();
    store.failWhen('put', () => true, new FakeS3Error('AccessDenied', 403));
    const { server } = await start(store, { closeWhen: 'received' });
    const s = await connectTo(server.socketPath);
    s.write(encodeFrame('OPEN', { token, path: 'open.bin', flags: O_WRONLY_CREAT_TRUNC, mode: 0o644, pid: process.pid }));
    expect((await readFrame(s))?.fields).toMatchObject({ err: 0 });
    s.write('still being written');
    expect((await request(server.socketPath, 'SYNC', { token, path: 'open.bin' }))?.fields).toMatchObject({ err: 0 });
    expect((await request(server.socketPath, 'SYNC', { token, path: 'nothing.bin' }))?.fields).toMatchObject({ err: ENOENT });
    s.destroy();
    await writeFile(server.socketPath, token, 'refused.bin', Buffer.from('refused'));
    const sync = await request(server.socketPath, 'SYNC', { token, path: 'refused.bin' });
    expect(sync?.fields).toMatchObject({ err: EIO });
    expect(sync?.name === 'REPLY' && sync.fields.message.toString()).toMatch(/refused\.bin was not stored: .*AccessDenied/);
  });

  it('with --close received, a writer that dies without END gets no early RESULT: the file fails as a dead writer', async () => {
    const { server, store, files, failures } = await start(undefined, { closeWhen: 'received' });
    await writeFile(server.socketPath, token, 'cut.bin', Buffer.from('half a file'), 0o1101, { end: 'die' });
    await files.idle();
    expect(failures).toEqual(['cut.bin']);
    expect(describeError(files.failures()[0]?.error)).toMatch(/ended without closing it/);
    expect(store.keys('bkt')).toEqual([]);
  });

  it('does not store a file whose writer ended without END (a killed writer), and fails it as the program\'s doing', async () => {
    const { server, store, files, failures } = await start();
    await writeFile(server.socketPath, token, 'cut.bin', await collect(pseudoRandom(6 * MiB)), 0o1101, { end: 'die' });
    await files.idle();
    expect(failures).toEqual(['cut.bin']);
    expect(describeError(files.failures()[0]?.error)).toMatch(/ended without closing it \(killed or crashed\?\) after 6291456 bytes/);
    expect((files.failures()[0]?.error as { category?: string }).category).toBe('producer');
    expect(store.keys('bkt')).toEqual([]);
    expect(store.uploads.size).toBe(0);
  });

  it('fails a file the shim gave up (FAIL while it is written, then its connection ends without END) once, with the refusal', async () => {
    const { server, store, files } = await start();
    const s = await connectTo(server.socketPath);
    s.write(encodeFrame('OPEN', { token, path: 'ra.db', flags: 0o1102, mode: 0o644, pid: process.pid }));
    expect((await readFrame(s))?.fields).toMatchObject({ err: 0 });
    const fail = await request(server.socketPath, 'FAIL', { token, path: 'ra.db', message: 'ra.db: too big for a random-access file' });
    expect(fail?.fields).toMatchObject({ err: 0 });
    s.end('some bytes');
    await files.idle();
    expect(files.failures().map((f) => [f.path, describeError(f.error)])).toEqual([['ra.db', expect.stringMatching(/too big for a random-access file/)]]);
    expect(store.keys('bkt')).toEqual([]);
    expect(store.uploads.size).toBe(0);
  });

  it('stores a file whose connection was shut down and held until the RESULT without END (the close of its certain last holder), recorded as closed', async () => {
    const { server, files, store } = await start();
    const data = await collect(pseudoRandom(6 * MiB));
    const { result } = await writeFile(server.socketPath, token, 'shut.bin', data, 0o1101, { end: 'shutdown' });
    expect(result?.fields).toMatchObject({ err: 0, size: BigInt(data.length) });
    expect(files.list().map((f) => [f.path, f.state, f.ended])).toEqual([['shut.bin', 'committed', 'close']]);
    expect(store.data('bkt', 'run/shut.bin')?.equals(data)).toBe(true);
  });

  it('stores a file whose END came after its last byte, recording how it ended; an unknown handle is ENOENT', async () => {
    const { server, files } = await start();
    await writeFile(server.socketPath, token, 'ok.bin', Buffer.from('complete'));
    expect(files.list().map((f) => [f.path, f.state, f.ended])).toEqual([['ok.bin', 'committed', 'close']]);
    expect((await request(server.socketPath, 'END', { token, file: 999n, how: 1 }))?.fields).toMatchObject({ err: ENOENT });
  });

  it('keeps no descriptor of a connection once its answer is out (files and their END, stats, refused opens and reads)', async () => {
    const { server } = await start();
    const descriptors = () => readdirSync('/proc/self/fd').length;
    const before = descriptors();
    for (let i = 0; i < 40; i++) {
      const { result } = await writeFile(server.socketPath, token, `f${i}`, Buffer.from(`file ${i}`), O_WRONLY_CREAT_EXCL);
      expect(result?.fields).toMatchObject({ err: 0 });
      expect((await writeFile(server.socketPath, token, `f${i}`, Buffer.from('again'), O_WRONLY_CREAT_EXCL)).reply?.fields).toMatchObject({ err: EEXIST });
      expect((await request(server.socketPath, 'STAT', { token, path: `f${i}` }))?.fields).toMatchObject({ err: 0 });
      expect((await request(server.socketPath, 'READ_OPEN', { token, path: `none${i}`, offset: 0n, pid: 1 }))?.fields).toMatchObject({ err: ENOENT });
    }
    // Each of those was a connection: 40 files, 40 ENDs, 40 refused opens, 40 stats and 40 reads, and writeFile's STATs.
    let held = descriptors() - before;
    for (let i = 0; i < 100 && held > 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
      held = descriptors() - before;
    }
    expect(held).toBeLessThanOrEqual(4);
  });

  it('answers requests in turn on one connection until its end, and closes one that sends an OPEN after a request', async () => {
    const { server } = await start();
    await writeFile(server.socketPath, token, 'a', Buffer.from('12345'));
    const s = await connectTo(server.socketPath);
    for (let i = 0; i < 3; i++) {
      s.write(encodeFrame('STAT', { token, path: 'a' }));
      expect((await readFrame(s))?.fields).toMatchObject({ err: 0, size: 5n });
      s.write(encodeFrame('STAT', { token, path: 'none' }));
      expect((await readFrame(s))?.fields).toMatchObject({ err: ENOENT });
    }
    s.write(encodeFrame('UNLINK', { token, path: 'a' }));
    expect((await readFrame(s))?.fields).toMatchObject({ err: 0 });
    const closed = new Promise((resolve) => s.once('close', resolve));
    s.end();
    await closed; // the uploader closed its end too once ours ended
    const t = await connectTo(server.socketPath);
    t.write(encodeFrame('STAT', { token, path: 'a' }));
    expect((await readFrame(t))?.fields).toMatchObject({ err: ENOENT });
    t.write(encodeFrame('OPEN', { token, path: 'b', flags: O_WRONLY_CREAT_TRUNC, mode: 0o644, pid: 1 }));
    expect(await readFrame(t)).toBeUndefined();
    expect(server.refused).toBe(1);
    t.destroy();
  });

  it('renames a stored file to a new key and removes the old one', async () => {
    const { server, store, files } = await start();
    await writeFile(server.socketPath, token, 'metadata.partial', Buffer.from('Started dump'));
    const reply = await request(server.socketPath, 'RENAME', { token, from: 'metadata.partial', to: 'metadata' });
    expect(reply?.fields).toMatchObject({ err: 0 });
    expect(store.keys('bkt')).toEqual(['run/metadata']);
    expect(files.list().map((f) => f.path)).toEqual(['metadata']);
  });

  it('refuses a rename to a name that is not UTF-8 with EILSEQ, instead of a lossy name', async () => {
    const { server, store } = await start();
    await writeFile(server.socketPath, token, 'a', Buffer.from('A'));
    const reply = await request(server.socketPath, 'RENAME', { token, from: 'a', to: Buffer.from([0x6e, 0xff]) });
    expect(reply?.fields).toMatchObject({ err: constants.errno.EILSEQ });
    expect(store.keys('bkt')).toEqual(['run/a']);
  });

  it('answers stat with the size of a stored file, and ENOENT after unlink', async () => {
    const { server, store } = await start();
    await writeFile(server.socketPath, token, 'a.txt', Buffer.from('12345'));
    expect((await request(server.socketPath, 'STAT', { token, path: 'a.txt' }))?.fields).toMatchObject({ err: 0, size: 5n });
    expect((await request(server.socketPath, 'UNLINK', { token, path: 'a.txt' }))?.fields).toMatchObject({ err: 0 });
    expect((await request(server.socketPath, 'STAT', { token, path: 'a.txt' }))?.fields).toMatchObject({ err: ENOENT });
    expect(store.keys('bkt')).toEqual([]);
  });
});
