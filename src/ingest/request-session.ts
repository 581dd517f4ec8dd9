import { constants } from 'node:os';
import { DisklessError, describeError } from '../errors.js';
import type { Logger } from '../util/log.js';
import { encodeFrame, type AnyMessage } from '../wire/frame-codec.js';
import { objectKey } from './object-key.js';
import type { VirtualFile, VirtualFiles } from './virtual-files.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Path of a request; a name that is not UTF-8 cannot be a virtual file. */
function pathOf(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Answers a RENAME, UNLINK, STAT, FAIL, END, RENAME_DIR or SYNC request with the frame to send back. */
export async function answerRequest(
  message: AnyMessage,
  files: VirtualFiles,
  log: Logger,
  onFailure?: (file: VirtualFile, error: unknown) => void,
): Promise<Buffer> {
  const errnoOf = (err: unknown) => (DisklessError.is(err) ? err.errno : constants.errno.EIO);
  const enoent = constants.errno.ENOENT;
  try {
    switch (message.name) {
      case 'STAT': {
        const path = pathOf(message.fields.path);
        if (path === undefined) return encodeFrame('STAT_REPLY', { err: enoent, size: 0, mtime_ns: 0, message: '' });
        const st = files.stat(path);
        return encodeFrame('STAT_REPLY', { err: 0, size: st.size, mtime_ns: BigInt(Math.round(st.mtimeMs)) * 1_000_000n, message: '' });
      }
      case 'UNLINK': {
        const path = pathOf(message.fields.path);
        if (path === undefined) return encodeFrame('REPLY', { err: enoent, message: 'not a virtual file' });
        await files.unlink(path);
        log.debug(`unlinked ${path}`);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      case 'RENAME': {
        const from = pathOf(message.fields.from);
        if (from === undefined) return encodeFrame('REPLY', { err: enoent, message: 'not a virtual file' });
        // A lossy decoding would let two different new names collide: objectKey refuses it with EILSEQ.
        const to = pathOf(message.fields.to) ?? objectKey('', message.fields.to);
        await files.rename(from, to);
        log.debug(`renamed ${from} to ${to}`);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      case 'FAIL': {
        const path = message.fields.path.toString();
        const text = message.fields.message.toString();
        log.warn(`the shim refused an operation the backup needs: ${text}`);
        const file = files.refusal(path, text);
        onFailure?.(file, file.error);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      case 'END': {
        files.markEnd(message.fields.file, message.fields.how);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      case 'SYNC': {
        const path = pathOf(message.fields.path);
        if (path === undefined) return encodeFrame('REPLY', { err: enoent, message: 'not a virtual file' });
        await files.sync(path);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      case 'RENAME_DIR': {
        const from = pathOf(message.fields.from);
        if (from === undefined) return encodeFrame('REPLY', { err: 0, message: '' });
        await files.renameDir(from, message.fields.to.toString());
        log.debug(`renamed directory ${from} to ${message.fields.to.toString()}`);
        return encodeFrame('REPLY', { err: 0, message: '' });
      }
      default:
        return encodeFrame('REPLY', { err: constants.errno.EPROTO, message: `unexpected ${message.name}` });
    }
  } catch (err) {
    if (message.name === 'STAT') return encodeFrame('STAT_REPLY', { err: errnoOf(err), size: 0, mtime_ns: 0, message: '' });
    if (errnoOf(err) !== enoent) log.warn(`${message.name.toLowerCase()} failed: ${describeError(err)}`);
    return encodeFrame('REPLY', { err: errnoOf(err), message: describeError(err).slice(0, 1000) });
  }
}
