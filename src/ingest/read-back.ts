import type { Socket } from 'node:net';
import { constants } from 'node:os';
import { DisklessError, describeError } from '../errors.js';
import { manifestFileOf } from '../manifest/manifest.js';
import { itemOfFile } from '../restore/restore-item.js';
import { formatS3Url } from '../s3/s3-url.js';
import { encodeFrame, type Message } from '../wire/frame-codec.js';
import { answerAndClose } from './answer-and-close.js';
import { serveRead, type ReadDeps } from './read-session.js';
import { manifestInputOf, type VirtualFiles } from './virtual-files.js';

/**
 * Linux's ENOKEY ("Required key not available"), which os.constants.errno does not list: a file stored
 * age-encrypted (--encrypt-to) cannot be read back by a run that holds no identity to decrypt it.
 */
export const ENOKEY = 126;

/** A stored file whose bytes did not check out, or could not be fetched, when the program read it. */
export interface ReadFailure {
  path: string;
  /** s3://BUCKET/KEY of the object that failed. */
  url: string;
  error: unknown;
}

/** An onFailure for ReadDeps that records each failed read of `bucket` in `failures`, named by its object's URL. */
export function recordFailures(bucket: string, failures: ReadFailure[]): (path: string, key: string, error: unknown) => void {
  return (path, key, error) => void failures.push({ path, url: formatS3Url({ bucket, key }), error });
}

/** The first few failed reads, named: `path (s3://…: why); …`. */
export function describeReadFailures(failures: readonly ReadFailure[]): string {
  const named = failures.slice(0, 3).map((f) => `${f.path} (${f.url}: ${describeError(f.error)})`);
  return `${named.join('; ')}${failures.length > 3 ? '; …' : ''}`;
}

/**
 * READ_OPEN of a file written earlier in this run (wire.def): once it is stored, its objects are read back
 * exactly as `run --from` reads a backup (serveRead: ranged GETs pinned to the stored ETags, CRC32C of each
 * chain object and of the whole checked when read from byte 0, before the range that completes it goes out).
 * Refused with the errno the shim's open returns: ENOENT (no such file: the shim opens the name for real),
 * EBUSY (still being written: the shim hands out the stand-in), EIO (its upload failed), ENOKEY (stored
 * encrypted: the run holds no identity to decrypt it).
 */
export async function serveReadBack(
  socket: Socket,
  input: AsyncIterator<Buffer>,
  open: Message<'READ_OPEN'>,
  files: VirtualFiles,
  deps: Omit<ReadDeps, 'tree'> & { bucket: string },
): Promise<void> {
  const refuse = (err: number, message: string) => answerAndClose(socket, encodeFrame('REPLY', { err, message: message.slice(0, 1000) }));
  let path: string;
  try {
    path = new TextDecoder('utf-8', { fatal: true }).decode(open.path);
  } catch {
    return void refuse(constants.errno.ENOENT, 'not a file of this run');
  }
  let file;
  try {
    file = await files.storedForRead(path);
  } catch (err) {
    return void refuse(DisklessError.is(err) ? err.errno : constants.errno.EIO, describeError(err));
  }
  if (file.encryption) {
    deps.read.log.warn(`${path}: the program tried to read it back, but it was stored encrypted (--encrypt-to) and the run holds no identity to decrypt it`);
    return void refuse(ENOKEY, `${path} was stored encrypted (--encrypt-to) and this run holds no identity to decrypt it: it cannot be read back`);
  }
  const item = itemOfFile(manifestFileOf(manifestInputOf(file)), file.path);
  const tree = { bucket: deps.bucket, get: (p: string) => (p === path ? item : undefined) };
  deps.read.log.debug(`${path}: read back from ${formatS3Url({ bucket: deps.bucket, key: item.key })}`);
  await serveRead(socket, input, open, { ...deps, tree });
}
