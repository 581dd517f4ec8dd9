import { ProducerError, UsageError } from '../errors.js';
import { commandEnv } from '../process/child-env.js';
import { resolveCommand } from '../process/command-check.js';
import { storePutManifest } from '../manifest/put-manifest.js';
import { startProducer } from '../process/producer.js';
import { parseObjectUrl } from '../s3/s3-url.js';
import { growPipe } from '../native/process-control.js';
import { SLAB_SIZE } from '../upload/memory-budget.js';
import { formatBytes } from '../util/size.js';
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
  /** Store an empty input as an empty object (default: refuse it, it would replace a good backup with nothing). */
  allowEmpty?: boolean;
  /** Keep the AWS credential variables in the command's environment (default: removed; see child-env.ts). */
  passAwsEnv?: boolean;
  onProgress?: (p: { bytesRead: number }) => void;
}

/**
 * `diskless put`: checks the target before reading anything, streams the input into one object
 * (or a chain), and commits only if the input ended cleanly and the command (if any) exited 0.
 */
export async function put(options: PutOptions): Promise<StreamUploadResult> {
  const startedAt = new Date();
  const target = parseObjectUrl(expandUrlTemplate(options.url), 'target');
  const planned = planUpload(options);
  if ('command' in options.input) {
    // Like `run`: a command that cannot start is a usage error, found before anything is sent.
    const file = options.input.command[0];
    if (!file) throw new UsageError('no command given after --');
    resolveCommand(file);
  }
  const session = await openSession(options, planned.concurrency + 2);
  try {
    const ctx = await prepareUpload(session, options, planned, target);
    await refuseExistingBackup(session, { objects: [target] }, options.overwrite ?? false);
    const plan = planned.plan;
    ctx.log.debug(`plan: ${plan.describe()}`);

    const producer = 'command' in options.input ? startProducer(options.input.command, { env: commandEnv(process.env, { passAwsEnv: options.passAwsEnv ?? false }) }) : undefined;
    const input = options.input;
    const limit = options.expectedSize;
    if (limit !== undefined) options.meter?.expect(limit);
    let bytesRead = 0;
    const source = producer ? producer.output : 'stream' in input ? input.stream : inputFd((input as { fd: number }).fd);
    try {
      const result = await uploadStream(ctx, source, {
        target,
        plan,
        // Another writer's object appearing at the key during the upload is not replaced (where the store can tell).
        ...(options.overwrite ? {} : { createOnly: true }),
        ...(options.settings ? { settings: options.settings } : {}),
        ...(options.sha256 ? { sha256: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: (p) => {
          bytesRead = p.bytesRead;
          if (limit !== undefined && p.bytesRead > limit) throw tooLong(limit);
          options.onProgress?.(p);
        },
        beforeCommit: async () => {
          await producer?.succeeded();
          if (bytesRead === 0 && !options.allowEmpty) {
            throw new ProducerError(
              `the input was empty: nothing was stored at ${options.url} (an empty object could replace a good backup); ` +
                'check the producer, or pass --allow-empty to store an empty object',
            );
          }
        },
      });
      const command = 'command' in input ? input.command : null;
      await storePutManifest(ctx, { result, startedAt, command, ...(options.settings ? { settings: options.settings } : {}) });
      return result;
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

/** An input fd, enlarged when it is a pipe so one read fills a whole slab instead of 64 KiB (issue 13). */
function inputFd(fd: number): { fd: number } {
  growPipe(fd, SLAB_SIZE);
  return { fd };
}

function tooLong(limit: number): ProducerError {
  return new ProducerError(
    `the input is larger than --expected-size ${formatBytes(limit)} (${limit} bytes): nothing was stored; ` +
      'give the real size, or leave --expected-size out for a stream of unknown length',
  );
}
