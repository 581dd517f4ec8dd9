#!/usr/bin/env node
// A peer for bench/compare.mjs: stdin into one object with @aws-sdk/lib-storage's Upload, the way
// an application using the SDK would stream a backup.
//
//   node bench/peers/lib-storage-put.mjs ENDPOINT BUCKET KEY [PART_MIB] [QUEUE] [CHECKSUMS]
//
// CHECKSUMS: "default" (the SDK's default flexible checksums: a CRC32 per part) or "when-required".
// The module is resolved from $DISKLESS_BENCH_PEERS/node_modules (bench/compare.mjs installs it there).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [endpoint, bucket, key, partMib = '16', queue = '4', checksums = 'default'] = process.argv.slice(2);
if (!endpoint || !bucket || !key) {
  console.error('usage: lib-storage-put.mjs ENDPOINT BUCKET KEY [PART_MIB] [QUEUE] [default|when-required]');
  process.exit(2);
}
const peers = process.env.DISKLESS_BENCH_PEERS;
if (!peers) {
  console.error('lib-storage-put.mjs: set DISKLESS_BENCH_PEERS to the directory bench/compare.mjs installed the peers in');
  process.exit(2);
}
const require = createRequire(join(peers, 'package.json'));
const { S3Client } = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');

const client = new S3Client({
  endpoint,
  region: process.env.AWS_REGION ?? 'us-east-1',
  forcePathStyle: true,
  ...(checksums === 'when-required' ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
});
const upload = new Upload({
  client,
  params: { Bucket: bucket, Key: key, Body: process.stdin },
  partSize: Number(partMib) * 1024 * 1024,
  queueSize: Number(queue),
  leavePartsOnError: false,
});
await upload.done();
