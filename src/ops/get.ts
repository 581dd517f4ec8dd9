import { downloadObject, type DownloadResult } from '../download/object-reader.js';
import { parseObjectUrl } from '../s3/s3-url.js';
import { openSession, type SessionOptions } from './session.js';

export interface GetOptions extends SessionOptions {
  url: string;
  output: NodeJS.WritableStream;
  signal?: AbortSignal;
}

/** `diskless get`: writes what `put` stored (one object or a chain) to `output`. */
export async function get(options: GetOptions): Promise<DownloadResult> {
  const ref = parseObjectUrl(options.url, 'source');
  const session = await openSession(options);
  try {
    return await downloadObject(session, ref, options.output, options.signal);
  } finally {
    session.close();
  }
}
