import os from 'node:os';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { encodeFrame, type AnyMessage } from '../../../src/wire/frame-codec.js';
import { ScriptedPeer, type ScriptedAnswer } from '../../fakes/scripted-peer.js';
import { buildPrograms, explain, run, type BuiltPrograms } from './harness.js';

// The shim facing an uploader that breaks the protocol (test/fakes/scripted-peer.ts): every
// broken answer is an EIO for the program, never a hang, a crash or a success. How the shim meets
// the real uploader is in the other files of this directory.

const { EIO } = os.constants.errno;

let programs: BuiltPrograms;
let peer: ScriptedPeer | undefined;

beforeAll(async () => {
  programs = await buildPrograms([
    { name: 'open_and_fopen_fail_with_errno' },
    { name: 'close_returns_eio_when_upload_fails' },
    { name: 'fclose_returns_eof_when_upload_fails' },
  ]);
});
afterAll(() => programs?.cleanup());
afterEach(async () => {
  await peer?.close();
  peer = undefined;
});

const ok = () => encodeFrame('REPLY', { err: 0, message: '' });

/** A well-formed frame with another protocol version in its header. */
function otherVersion(frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  b.writeUInt16LE(b.readUInt16LE(6) + 1, 6);
  return b;
}

/** A frame whose header claims fewer payload bytes than its fields need. */
function shortLength(frame: Buffer, length: number): Buffer {
  const b = Buffer.from(frame);
  b.writeUInt32LE(length, 0);
  return b.subarray(0, 8 + length);
}

/** Answers each OPEN by the file's name. */
async function peerAnswering(answers: Record<string, ScriptedAnswer>): Promise<ScriptedPeer> {
  peer = await ScriptedPeer.start((request: AnyMessage) => {
    const name = request.name === 'OPEN' ? request.fields.path.toString() : '';
    return answers[name] ?? { send: encodeFrame('REPLY', { err: EIO, message: `no script for ${request.name} ${name}` }) };
  });
  return peer;
}

describe('the shim facing a broken uploader', () => {
  it('open and fopen fail with EIO, leaking no descriptor, when the answer to OPEN is garbage, another version, truncated, inconsistent or missing', async () => {
    const replyWithText = encodeFrame('REPLY', { err: 0, message: 'some text' });
    const p = await peerAnswering({
      garbage: { send: Buffer.alloc(16, 0xff) },
      version: { send: otherVersion(ok()) },
      truncated: { send: replyWithText.subarray(0, replyWithText.length - 3) },
      inconsistent: { send: shortLength(replyWithText, 4) },
      'wrong-type': { send: encodeFrame('STAT_REPLY', { err: 0, size: 1, mtime_ns: 0, message: '' }) },
      nothing: { send: Buffer.alloc(0) },
    });
    for (const name of ['garbage', 'version', 'truncated', 'inconsistent', 'wrong-type', 'nothing']) {
      const r = await run(programs.path('open_and_fopen_fail_with_errno'), [name, String(EIO)], { env: p.env() });
      expect(r.code, `${name}: ${explain(r)}`).toBe(0);
    }
    expect(p.received).toEqual(Array(12).fill('OPEN'));
  });

  it('close returns EIO when the uploader ends the connection after the bytes without a RESULT, or with a broken one', async () => {
    const result = encodeFrame('RESULT', { err: 0, size: 7, message: '' });
    const p = await peerAnswering({
      dropped: { send: ok(), atEof: Buffer.alloc(0) },
      'not-a-result': { send: ok(), atEof: ok() },
      'truncated-result': { send: ok(), atEof: result.subarray(0, result.length - 2) },
      'result-of-another-version': { send: ok(), atEof: otherVersion(result) },
    });
    for (const name of ['dropped', 'not-a-result', 'truncated-result', 'result-of-another-version']) {
      const r = await run(programs.path('close_returns_eio_when_upload_fails'), [name, String(EIO)], { env: p.env() });
      expect(r.code, `${name}: ${explain(r)}`).toBe(0);
    }
  });

  it('fclose returns EOF with EIO when the uploader drops the connection without a result', async () => {
    const p = await peerAnswering({ 'dropped.txt': { send: ok(), atEof: Buffer.alloc(0) } });
    const r = await run(programs.path('fclose_returns_eof_when_upload_fails'), ['dropped.txt', String(EIO)], { env: p.env() });
    expect(r.code, explain(r)).toBe(0);
  });

  it('a good RESULT from the same scripted peer makes close return 0 (the broken cases above are what fails)', async () => {
    const p = await peerAnswering({ fine: { send: ok(), atEof: encodeFrame('RESULT', { err: 0, size: 7, message: '' }) } });
    const r = await run(programs.path('close_returns_eio_when_upload_fails'), ['fine', '0'], { env: p.env() });
    // The program expects close to fail with errno 0, which it cannot: it reports close returned 0.
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/close returned 0, errno 0/);
  });
});
