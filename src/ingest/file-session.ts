import { constants } from 'node:os';
import type { Socket } from 'node:net';
import { encryptSource } from '../crypto/encrypt-source.js';
import { DisklessError, describeError } from '../errors.js';
import { peerHungUp } from '../native/process-control.js';
import type { ByteReader } from '../upload/byte-reader.js';
import type { WriteSettings } from '../upload/object-store.js';
import type { PartPlan } from '../upload/part-planner.js';
import { uploadStream } from '../upload/stream-uploader.js';
import type { UploadContext } from '../upload/upload-context.js';
import { encodeFrame, type Message } from '../wire/frame-codec.js';
import { WIRE_MAX_MESSAGE } from '../wire/wire.generated.js';
import { answerAndClose } from './answer-and-close.js';
import { SocketReader } from './socket-reader.js';
import type { VirtualFile, VirtualFiles } from './virtual-files.js';

export interface FileSessionDeps {
  files: VirtualFiles;
  ctx: UploadContext;
  plan: PartPlan;
  bucket: string;
  settings: WriteSettings;
  signal: AbortSignal;
  /** Encrypt every file with age for these recipients (each file its own age stream). */
  recipients?: readonly string[];
  /** Told about every file whose upload failed (the run fails fast on the first). */
  onFailure: (file: VirtualFile, error: unknown) => void;
  /**
   * When the shim's close() gets its RESULT: once the object is stored (default), or once every
   * byte is in the uploader's memory (`received`: the object is stored after the close returned;
   * a failure then fails the run, not the close). docs/SEMANTICS.md, "--close received".
   */
  closeWhen?: CloseWhen;
}

export type CloseWhen = 'stored' | 'received';

/**
 * One virtual file: answers the shim's OPEN, streams the bytes that follow into an object, then
 * sends the RESULT the shim's close() waits for. On failure the RESULT goes out at once and the rest
 * of the input is drained, so the program is never blocked on a full socket.
 */
export async function serveFile(
  accepted: Socket,
  first: Buffer,
  open: Message<'OPEN'>,
  deps: FileSessionDeps,
  /** Told about the socket that replaces `accepted` once the file is open (the server closes it on shutdown). */
  adopt: (socket: Socket) => void,
): Promise<void> {
  const { files, ctx } = deps;
  let file: VirtualFile;
  try {
    file = await files.openForWrite(open.path, open.flags);
  } catch (err) {
    const errno = DisklessError.is(err) ? err.errno : constants.errno.EIO;
    ctx.log.warn(`refused to open ${open.path.toString()} for pid ${open.pid}: ${describeError(err)}`);
    answerAndClose(accepted, encodeFrame('REPLY', { err: errno, message: clip(describeError(err)) }));
    return;
  }
  // From here the file's bytes are read by libuv straight into the part buffers (socket-reader.ts).
  const reader = new SocketReader(accepted, first);
  const socket = reader.socket;
  adopt(socket);
  // REPLY and HANDLE in one write: the HANDLE must be in the shim's receive queue once it has the REPLY.
  socket.write(Buffer.concat([encodeFrame('REPLY', { err: 0, message: '' }), encodeFrame('HANDLE', { file: files.handleFor(file) })]));
  file.received = () => reader.received;
  // A connection Node already destroyed (the last holder closed it: ECONNRESET) has no writer left either.
  file.writersGone = () => socket.destroyed || peerHungUp(socket);
  file.endedByShutdown = () => reader.endedByShutdown;
  ctx.log.debug(`${file.path}: opened by pid ${open.pid}, uploading to ${file.key}`);
  let taken = 0; // bytes of the file handed to the upload
  const source: ByteReader = {
    readInto: async (into, signal) => {
      const n = await reader.readInto(into, signal);
      taken += n;
      if (n === 0) {
        // Never store a file shorter than what the program wrote.
        const lost = reader.received - taken;
        if (lost > 0) throw new DisklessError('upload', `${lost} byte(s) the program wrote were lost by the uploader at the end of the file; not stored`, { errno: constants.errno.EIO });
        files.inputEnded(file);
      }
      return n;
    },
    quiesced: () => reader.quiesced(),
  };
  // The one RESULT of this file: what the shim's close() returns.
  let answered = false;
  const answer = (frame: Buffer) => {
    if (answered) return;
    answered = true;
    socket.end(frame);
  };
  const early = deps.closeWhen === 'received'
    ? () => answer(encodeFrame('RESULT', { err: 0, size: file.received?.() ?? file.bytes, message: '' }))
    : undefined;
  try {
    // The encryption sits before the uploader: the object's CRC32C, ETag and size are the ciphertext's.
    const encrypted = deps.recipients ? await encryptSource(source, deps.recipients) : undefined;
    const result = await uploadStream(ctx, encrypted?.source ?? source, {
      target: { bucket: deps.bucket, key: file.key },
      plan: deps.plan,
      settings: deps.settings,
      signal: deps.signal,
      onProgress: ({ bytesRead }) => files.progress(file, bytesRead),
      ...(early ? { onInputEnd: early } : {}),
      // A small file's HeadObject is replaced by the listing checked before the manifest (VirtualFiles.verifyListed).
      checkLater: true,
    });
    const encryption = encrypted?.record();
    await files.committed(file, result, encryption);
    ctx.log.debug(`${file.path}: stored ${result.size} bytes as ${file.key}${encryption ? ` (age, ${encryption.plaintextSize} bytes of plaintext)` : ''}`);
    answer(encodeFrame('RESULT', { err: 0, size: encryption?.plaintextSize ?? result.size, message: '' }));
  } catch (err) {
    files.failed(file, err);
    deps.onFailure(file, err);
    const errno = DisklessError.is(err) ? err.errno : constants.errno.EIO;
    // After an early RESULT (--close received) the close has returned: the failure fails the run only.
    if (answered) ctx.log.warn(`${file.path}: not stored after its close returned (--close received): ${describeError(err)}`);
    answer(encodeFrame('RESULT', { err: errno, size: file.bytes, message: clip(describeError(err)) }));
    // Keep reading (and dropping) what the program still writes, so it reaches its close().
    await reader.drain();
  }
}

function clip(message: string): string {
  const b = Buffer.from(message);
  return b.length <= WIRE_MAX_MESSAGE ? message : b.subarray(0, WIRE_MAX_MESSAGE - 3).toString() + '...';
}
