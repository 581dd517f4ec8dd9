import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../src/s3/s3-object-store.js';

/** An S3 client whose "network" records the request and answers with `xml`. */
function recordingStore(xml: string) {
  const seen: Array<{ headers: Record<string, string>; body: string }> = [];
  const client = new S3Client({
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'k', secretAccessKey: 's' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: {
      async handle(request: { headers: Record<string, string>; body: unknown }) {
        seen.push({ headers: request.headers, body: String(request.body) });
        return { response: { statusCode: 200, headers: { 'content-type': 'application/xml' }, body: Readable.from([Buffer.from(xml)]) } };
      },
    } as never,
  });
  return { store: new S3ObjectStore(client, 'recording'), seen };
}

describe('S3ObjectStore.deleteObjects', () => {
  it('sends Content-MD5 of the exact body (OpenStack Swift s3api requires it), in quiet mode', async () => {
    const { store, seen } = recordingStore('<?xml version="1.0"?><DeleteResult></DeleteResult>');
    const out = await store.deleteObjects('b', ['a/1', 'a/2']);
    expect(out).toEqual({ deleted: ['a/1', 'a/2'], errors: [] });
    expect(seen).toHaveLength(1);
    const { headers, body } = seen[0]!;
    expect(body).toMatch(/<Quiet>true<\/Quiet>/);
    expect(headers['content-md5']).toBe(createHash('md5').update(body).digest('base64'));
  });

  it('reports the keys the store refused and counts the others as deleted', async () => {
    const { store } = recordingStore(
      '<?xml version="1.0"?><DeleteResult><Error><Key>a/2</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>',
    );
    expect(await store.deleteObjects('b', ['a/1', 'a/2'])).toEqual({ deleted: ['a/1'], errors: [{ key: 'a/2', code: 'AccessDenied', message: 'Access Denied' }] });
  });
});
