import { startProducer } from '../process/producer.js';
import { parseObjectUrl } from '../s3/s3-url.js';
import { uploadStream, type StreamUploadResult } from '../upload/stream-uploader.js';
import { refuseExistingBackup } from './existing-backup.js';
import { expandUrlTemplate } from './key-template.js';
import { openSession } from './session.js';
import { planUpload, prepareUpload, type UploadOptions } from './upload-setup.js';

export { DEFAULT_CONCURRENCY } from './upload-setup.js';

export interface PutOptions extends UploadOptions {
  /** `s3://bucket/key` */
  url: string;
  /** The bytes to store: a stream, a file descriptor (e.g. stdin), or a command whose stdout to store. */
  input: { stream: AsyncIterable<Uint8Array> } | { fd: number } | { command: readonly string[] };
  sha256?: boolean;
  onProgress?: (p: { bytesRead: number }) => void;
}

/**
 * `diskless put`: checks the target before reading anything, streams the input into one object
 * (or a chain), and commits only if the input ended cleanly and the command (if any) exited 0.
 */
export async function put(options: PutOptions): Promise<StreamUploadResult> {
  const target = parseObjectUrl(expandUrlTemplate(options.url), 'target');
  const planned = planUpload(options);
  const session = await openSession(options, planned.concurrency + 2);
  try {
    const ctx = await prepareUpload(session, options, planned, target);
    await refuseExistingBackup(session, { objects: [target] }, options.overwrite ?? false);
    const plan = planned.plan;
    ctx.log.debug(`plan: ${plan.describe()}`);

    const producer = 'command' in options.input ? startProducer(options.input.command) : undefined;
    const input = options.input;
    const source = producer ? producer.output : 'stream' in input ? input.stream : { fd: (input as { fd: number }).fd };
    try {
      return await uploadStream(ctx, source, {
        target,
        plan,
        // Another writer's object appearing at the key during the upload is not replaced (where the store can tell).
        ...(options.overwrite ? {} : { createOnly: true }),
        ...(options.settings ? { settings: options.settings } : {}),
        ...(options.sha256 ? { sha256: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(producer ? { beforeCommit: () => producer.succeeded() } : {}),
      });
    } catch (err) {
      // An upload that failed must not leave the command blocked on a pipe nobody reads.
      producer?.stop();
      throw err;
    } finally {
      producer?.close();
    }
  } finally {
    session.close();
  }
}
