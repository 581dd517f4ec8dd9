#!/usr/bin/env node
// Discard sink: a minimal S3-compatible HTTP server for benchmarks (Node, no dependencies).
//
//   node bench/discard-sink.mjs [PORT]        (PORT 0 or absent: a random free port)
//   node bench/discard-sink.mjs --generate SIZE   (SIZE bytes of the pattern below on stdout, then exit)
//
// Listens on 127.0.0.1 only and prints `DISCARD_SINK_ENDPOINT=http://127.0.0.1:PORT` on stdout
// when it is ready. It reads and drops every request body while computing its MD5, and keeps
// only sizes, ETags (and the few x-amz-meta-* headers) in memory, so it costs no disk and almost
// no memory: it isolates the client's cost. It is not free: its MD5 costs about 2.4 CPU-s per
// GiB, which on a small machine competes with the client for the same cores.
//
// Reading back (GetObject, for read benchmarks): the sink keeps whole only small PutObject bodies
// (up to 1 MiB: manifests, chain indexes, verification records). A larger object can be read back
// only if it holds THE PATTERN: byte i of the object is byte (i mod PATTERN_BYTES) of one block of
// PATTERN_BYTES = 16 MiB + 4093 bytes (an odd size, so parts and ranges do not line up with it),
// the AES-256-CTR keystream of a fixed key (SHA-256 of "diskless discard sink"), zero IV: random
// looking, incompressible within any 16 MiB window. `--generate SIZE` writes that stream, e.g.
//   node bench/discard-sink.mjs --generate 4G | diskless put --endpoint-url $ENDPOINT s3://b/k
// The sink keeps the first 64 bytes of every body it drops; an object counts as the pattern when
// each of its parts (a PutObject: its one body) begins with the pattern's bytes at that part's
// offset in the object (known at Complete, from the part sizes). GET of such an object (Range
// bytes=A-B, A- or -N; If-Match checked, 412 otherwise) sends the pattern's bytes from the
// precomputed block: no per-byte work on the sink beyond the socket writes. So what a reader
// gets is what the writer sent, byte for byte, and any checksum the writer recorded (diskless's
// CRC32C and SHA-256 in its manifest, the ETag) still agrees. GET of a large object that is not
// the pattern answers 400 InvalidRequest (the sink has not got its bytes; not retried by clients).
// Tested by test/unit/bench/discard-sink.test.ts.
//
// It IGNORES SIGNATURES AND CREDENTIALS: every request is accepted whatever its Authorization
// header says. Never expose it beyond the loopback interface.
//
// Path-style addressing only (http://127.0.0.1:PORT/BUCKET/KEY); every bucket exists.
// Implemented:
//   PutObject                 PUT    /b/k                      (ETag = MD5 of the body)
//   CreateMultipartUpload     POST   /b/k?uploads
//   UploadPart                PUT    /b/k?partNumber=N&uploadId=U
//   CompleteMultipartUpload   POST   /b/k?uploadId=U           (checks every listed part and its
//                                     ETag, ascending numbers, 5 MiB minimum but for the last;
//                                     ETag = md5(concat(part MD5s))-N)
//   AbortMultipartUpload      DELETE /b/k?uploadId=U
//   HeadObject                HEAD   /b/k                      (size and ETag recorded; 404 else)
//   GetObject                 GET    /b/k                      (small bodies kept, or the pattern; see above)
//   DeleteObject              DELETE /b/k
//   ListMultipartUploads      GET    /b?uploads[&prefix=P]    (the open ones, never truncated)
//   ListObjectsV2 / V1        GET    /b?list-type=2 | GET /b  (the recorded keys: prefix, delimiter,
//                                     max-keys, continuation-token/start-after or marker; what
//                                     `rclone copy` asks before it uploads)
//   CreateBucket/HeadBucket/DeleteBucket: accepted, no effect.
// Content-MD5, when sent, is checked (400 BadDigest on mismatch). aws-chunked bodies (streaming
// signatures, checksum trailers) are refused with 501: send plain bodies.
// CRC32C part checksums, as AWS takes them (COMPOSITE): a CreateMultipartUpload with
// x-amz-checksum-algorithm: CRC32C is answered with that header; each of its parts must carry
// x-amz-checksum-crc32c (checked, 400 BadDigest on mismatch; echoed), Complete must list each
// part's ChecksumCRC32C and answers the composite (CRC32C of the parts' CRC32Cs, base64, -N),
// which HeadObject with x-amz-checksum-mode: ENABLED gives too. DISCARD_SINK_CHECKSUMS=0 ignores
// them instead, as Ceph 16 and Swift do. The CRC32C is diskless's (dist/, build it first).
//
// On SIGTERM/SIGINT it prints one JSON line of totals on stderr and exits 0.
// DISCARD_SINK_VERBOSE=1 prints every request line and its headers on stderr (what a client sends).

import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import http from 'node:http';

const MIN_PART_SIZE = 5 * 1024 * 1024;
/** PutObject bodies up to this size are kept whole (GET returns them). */
const KEEP_LIMIT = 1024 * 1024;
/** Bytes of each dropped body kept to tell whether it holds the pattern. */
const HEAD_BYTES = 64;
const PATTERN_BYTES = 16 * 1024 * 1024 + 4093;

/** The pattern's block: AES-256-CTR keystream of a fixed key (the same in every process). */
function patternBlock() {
  const key = createHash('sha256').update('diskless discard sink').digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(PATTERN_BYTES)), cipher.final()]);
}
const PATTERN = patternBlock();

/** Writes bytes [start, end) of the pattern to `out` with backpressure, in slices of at most 4 MiB. */
async function writePattern(out, start, end) {
  let at = start;
  while (at < end) {
    const off = at % PATTERN_BYTES;
    const n = Math.min(end - at, PATTERN_BYTES - off, 4 * 1024 * 1024);
    at += n;
    if (!out.write(PATTERN.subarray(off, off + n))) {
      await new Promise((resolve, reject) => {
        const done = (err) => {
          out.off('drain', done);
          out.off('close', gone);
          if (err) reject(err);
          else resolve();
        };
        const gone = () => done(new Error('connection closed'));
        out.on('drain', done);
        out.on('close', gone);
      });
    }
  }
}

/** Whether `head` (the first bytes of a body) is the pattern at `offset` of an object. */
function isPatternAt(head, offset) {
  for (let i = 0; i < head.length; i++) if (head[i] !== PATTERN[(offset + i) % PATTERN_BYTES]) return false;
  return true;
}

if (process.argv[2] === '--generate') {
  const units = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  const m = /^(\d+)([KMGT]?)(i?B)?$/.exec(process.argv[3] ?? '');
  if (!m) {
    console.error(`usage: node bench/discard-sink.mjs --generate SIZE  (e.g. 4G; got ${process.argv[3]})`);
    process.exit(2);
  }
  const size = Number(m[1]) * units[m[2]];
  process.stdout.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0); // the reader went away (head -c)
    console.error(`discard-sink --generate: writing stdout failed: ${err.message}`);
    process.exit(1); // never a short stream that looks whole
  });
  await writePattern(process.stdout, 0, size);
  // Exit only once stdout has taken every byte: a pipe's last writes may still be queued (a busy
  // reader), and exiting at once cut the stream short (CI: a 12 MiB + 5 pattern came out 12 MiB).
  await new Promise((resolve) => process.stdout.end(resolve));
  process.exit(0);
}

/** CRC32C part checksums taken (AWS) or ignored (DISCARD_SINK_CHECKSUMS=0: Ceph 16, Swift). */
const CHECKSUMS = process.env.DISCARD_SINK_CHECKSUMS !== '0';
/** diskless's native CRC32C (dist/checksum/crc32c.js), loaded with the first upload that asks for CRC32C. */
let crc32cModule;
async function loadCrc32c() {
  crc32cModule ??= await import(new URL('../dist/checksum/crc32c.js', import.meta.url).href);
  return crc32cModule.crc32c;
}
/** A CRC32C as x-amz-checksum-crc32c writes it: the four bytes big-endian, base64. */
function crc32cBase64(crc) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc >>> 0);
  return b.toString('base64');
}

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node bench/discard-sink.mjs [PORT]  (got ${process.argv[2]})`);
  process.exit(2);
}

/** "bucket/key" -> { size, etag (hex, may end in -N), lastModified, metadata, body? (kept small body), pattern (bool) } */
const objects = new Map();
/** uploadId -> { bucket, key, initiated, metadata, parts: Map<partNumber, { size, md5 (Buffer), head (Buffer) }> } */
const uploads = new Map();
const totals = { connections: 0, requests: 0, bodyBytes: 0, puts: 0, parts: 0, partsCrc32c: 0, partsContentMd5: 0, completes: 0, aborts: 0, heads: 0, gets: 0, getBytes: 0, deletes: 0, lists: 0, errors: 0 };

const xmlEscape = (s) =>
  String(s).replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
const xmlUnescape = (s) =>
  s.replace(/&(lt|gt|amp|apos|quot|#34|#x22);/g, (_, e) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"', '#34': '"', '#x22': '"' })[e]);

function sendXml(res, status, body) {
  const buf = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': buf.length });
  res.end(buf);
}

function sendError(res, status, code, message, resource = '') {
  totals.errors++;
  if (res.req.method === 'HEAD') {
    res.writeHead(status, { 'x-amz-error-code': code });
    res.end();
    return;
  }
  sendXml(
    res,
    status,
    `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><Resource>${xmlEscape(resource)}</Resource>` +
      `<RequestId>${randomUUID()}</RequestId></Error>`,
  );
}

function sendEmpty(res, status, headers = {}) {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

/**
 * Reads the body to its end, hashing and dropping it. Resolves { size, md5 (Buffer), head (its
 * first HEAD_BYTES), body (the whole body if it is at most `keep` bytes, else undefined), crc32c
 * (a number, when `crc32c` is diskless's CRC32C function) }.
 */
function drain(req, keep = 0, crc32c = undefined) {
  return new Promise((resolve, reject) => {
    const md5 = createHash('md5');
    let crc = 0;
    let size = 0;
    const held = [];
    let heldBytes = 0;
    req.on('data', (chunk) => {
      md5.update(chunk);
      if (crc32c) crc = crc32c(chunk, crc);
      if (heldBytes < Math.max(keep, HEAD_BYTES)) {
        held.push(chunk);
        heldBytes += chunk.length;
      }
      size += chunk.length;
    });
    req.on('end', () => {
      totals.bodyBytes += size;
      const all = Buffer.concat(held);
      resolve({ size, md5: md5.digest(), head: Buffer.from(all.subarray(0, HEAD_BYTES)), body: size <= keep ? all : undefined, ...(crc32c ? { crc32c: crc } : {}) });
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/** Reads a small body (Complete's XML) as text. */
function readText(req, limit = 16 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      totals.bodyBytes += size;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

/**
 * Drains the body and checks Content-MD5 (if sent), Content-Length, and x-amz-checksum-crc32c when `crc32c` (a part
 * of an upload begun with CRC32C). Returns the body or undefined after answering.
 */
async function receiveBody(req, res, resource, keep = 0, crc32c = false) {
  const encoding = String(req.headers['content-encoding'] ?? '');
  const sha = String(req.headers['x-amz-content-sha256'] ?? '');
  if (encoding.includes('aws-chunked') || sha.startsWith('STREAMING-')) {
    req.resume();
    sendError(res, 501, 'NotImplemented', 'the discard sink does not decode aws-chunked bodies; send plain bodies', resource);
    return undefined;
  }
  const sent = req.headers['x-amz-checksum-crc32c'];
  if (crc32c && sent === undefined) {
    req.resume();
    sendError(res, 400, 'InvalidRequest', 'The upload was created using a crc32c checksum: each part must carry x-amz-checksum-crc32c.', resource);
    return undefined;
  }
  const body = await drain(req, keep, crc32c ? await loadCrc32c() : undefined);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) !== body.size) {
    sendError(res, 400, 'IncompleteBody', `Content-Length ${declared} but ${body.size} bytes received`, resource);
    return undefined;
  }
  const contentMd5 = req.headers['content-md5'];
  if (contentMd5 !== undefined && contentMd5 !== body.md5.toString('base64')) {
    sendError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.', resource);
    return undefined;
  }
  if (crc32c && sent !== crc32cBase64(body.crc32c)) {
    sendError(res, 400, 'BadDigest', 'The CRC32C you specified did not match the calculated checksum.', resource);
    return undefined;
  }
  return body;
}

function userMetadata(headers) {
  const meta = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-')) meta[name] = String(value);
  }
  return meta;
}

function quoted(etag) {
  return `"${etag}"`;
}

/**
 * ListObjectsV2 (list-type=2) or V1: the recorded objects of `bucket` under `prefix`, in key order,
 * rolled up at `delimiter` into CommonPrefixes, at most max-keys (default 1000) per page.
 */
function listObjects(bucket, q) {
  const v2 = q.get('list-type') === '2';
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = Math.min(Number(q.get('max-keys') ?? 1000) || 1000, 1000);
  const after = (v2 ? (q.get('continuation-token') ?? q.get('start-after')) : q.get('marker')) ?? '';
  const keys = [...objects.keys()]
    .filter((id) => id.startsWith(`${bucket}/`))
    .map((id) => id.slice(bucket.length + 1))
    .filter((k) => k.startsWith(prefix) && k > after)
    .sort();
  const contents = [];
  const prefixes = [];
  let last = '';
  let truncated = false;
  for (const k of keys) {
    const cut = delimiter ? k.indexOf(delimiter, prefix.length) : -1;
    const common = cut >= 0 ? k.slice(0, cut + delimiter.length) : undefined;
    if (common !== undefined && common === prefixes.at(-1)) continue;
    if (contents.length + prefixes.length === maxKeys) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      // The next page starts after every key under this common prefix.
      last = common + '\uffff';
    } else {
      contents.push(k);
      last = k;
    }
  }
  const items = contents
    .map((k) => {
      const o = objects.get(`${bucket}/${k}`);
      return `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified>` +
        `<ETag>${xmlEscape(quoted(o.etag))}</ETag><Size>${o.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
    })
    .join('');
  const common = prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join('');
  const next = truncated ? (v2 ? `<NextContinuationToken>${xmlEscape(last)}</NextContinuationToken>` : `<NextMarker>${xmlEscape(last)}</NextMarker>`) : '';
  const count = v2 ? `<KeyCount>${contents.length + prefixes.length}</KeyCount>` : '';
  return `<ListBucketResult><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>` +
    (delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : '') +
    `<MaxKeys>${maxKeys}</MaxKeys>${count}<IsTruncated>${truncated}</IsTruncated>${next}${items}${common}</ListBucketResult>`;
}

const verbose = process.env.DISCARD_SINK_VERBOSE === '1';

async function handle(req, res) {
  totals.requests++;
  if (verbose) {
    const socket = `${req.socket.remotePort}`;
    process.stderr.write(`${req.method} ${req.url} (client port ${socket})\n`);
    for (const [name, value] of Object.entries(req.headers)) {
      process.stderr.write(`  ${name}: ${name === 'authorization' ? String(value).slice(0, 60) + '…' : value}\n`);
    }
  }
  const url = new URL(req.url, 'http://sink');
  const q = url.searchParams;
  const path = url.pathname.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  const bucket = decodeURIComponent(slash < 0 ? path : path.slice(0, slash));
  const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
  const resource = `/${bucket}/${key}`;
  const id = `${bucket}/${key}`;
  const method = req.method;

  if (!bucket) {
    // ListBuckets: nothing to list.
    req.resume();
    return sendXml(res, 200, '<ListAllMyBucketsResult><Owner><ID>sink</ID></Owner><Buckets/></ListAllMyBucketsResult>');
  }

  if (!key) {
    // Bucket-level requests.
    if (method === 'GET' && q.has('uploads')) {
      req.resume();
      const prefix = q.get('prefix') ?? '';
      const open = [...uploads.entries()]
        .filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
        .sort(([ia, a], [ib, b]) => (a.key < b.key ? -1 : a.key > b.key ? 1 : ia < ib ? -1 : 1));
      const items = open
        .map(
          ([uploadId, u]) =>
            `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${uploadId}</UploadId>` +
            '<Initiator><ID>sink</ID><DisplayName>sink</DisplayName></Initiator><Owner><ID>sink</ID><DisplayName>sink</DisplayName></Owner>' +
            `<StorageClass>STANDARD</StorageClass><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`,
        )
        .join('');
      return sendXml(
        res,
        200,
        `<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
          `<NextKeyMarker></NextKeyMarker><NextUploadIdMarker></NextUploadIdMarker><Prefix>${xmlEscape(prefix)}</Prefix>` +
          `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${items}</ListMultipartUploadsResult>`,
      );
    }
    if (method === 'PUT' || method === 'HEAD' || method === 'DELETE') {
      req.resume();
      return sendEmpty(res, method === 'DELETE' ? 204 : 200);
    }
    if (method === 'GET' && !q.has('location') && !q.has('versioning')) {
      req.resume();
      totals.lists++;
      return sendXml(res, 200, listObjects(bucket, q));
    }
    req.resume();
    return sendError(res, 501, 'NotImplemented', `${method} ${req.url} is not implemented by the discard sink`, resource);
  }

  // Object-level requests.
  if (method === 'PUT' && q.has('uploadId')) {
    // UploadPart (UploadPartCopy is not supported).
    if (req.headers['x-amz-copy-source']) {
      req.resume();
      return sendError(res, 501, 'NotImplemented', 'UploadPartCopy is not implemented by the discard sink', resource);
    }
    const upload = uploads.get(q.get('uploadId'));
    const partNumber = Number(q.get('partNumber'));
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      req.resume();
      return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', resource);
    }
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
      req.resume();
      return sendError(res, 400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', resource);
    }
    const body = await receiveBody(req, res, resource, 0, upload.crc32c);
    if (!body) return;
    if (!uploads.has(q.get('uploadId'))) {
      return sendError(res, 404, 'NoSuchUpload', 'The upload was aborted while the part was sent.', resource);
    }
    upload.parts.set(partNumber, body);
    totals.parts++;
    if (upload.crc32c) totals.partsCrc32c++;
    if (req.headers['content-md5'] !== undefined) totals.partsContentMd5++;
    return sendEmpty(res, 200, { ETag: quoted(body.md5.toString('hex')), ...(upload.crc32c ? { 'x-amz-checksum-crc32c': crc32cBase64(body.crc32c) } : {}) });
  }

  if (method === 'PUT') {
    // PutObject (CopyObject is not supported).
    if (req.headers['x-amz-copy-source']) {
      req.resume();
      return sendError(res, 501, 'NotImplemented', 'CopyObject is not implemented by the discard sink', resource);
    }
    const body = await receiveBody(req, res, resource, KEEP_LIMIT);
    if (!body) return;
    const etag = body.md5.toString('hex');
    objects.set(id, {
      size: body.size,
      etag,
      lastModified: new Date(),
      metadata: userMetadata(req.headers),
      body: body.body,
      pattern: body.body === undefined && isPatternAt(body.head, 0),
    });
    totals.puts++;
    return sendEmpty(res, 200, { ETag: quoted(etag) });
  }

  if (method === 'POST' && q.has('uploads')) {
    // CreateMultipartUpload
    req.resume();
    const uploadId = randomUUID().replace(/-/g, '');
    const crc32c = CHECKSUMS && String(req.headers['x-amz-checksum-algorithm'] ?? '').toUpperCase() === 'CRC32C';
    uploads.set(uploadId, { bucket, key, initiated: new Date(), metadata: userMetadata(req.headers), parts: new Map(), crc32c });
    if (crc32c) {
      res.setHeader('x-amz-checksum-algorithm', 'CRC32C');
      res.setHeader('x-amz-checksum-type', 'COMPOSITE');
    }
    return sendXml(
      res,
      200,
      `<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key>` +
        `<UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`,
    );
  }

  if (method === 'POST' && q.has('uploadId')) {
    // CompleteMultipartUpload
    const uploadId = q.get('uploadId');
    const text = await readText(req);
    const upload = uploads.get(uploadId);
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', resource);
    }
    const listed = [...text.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
      partNumber: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(m[1])?.[1]),
      etag: xmlUnescape(/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1])?.[1] ?? '')
        .trim()
        .replace(/^"|"$/g, ''),
      crc32c: /<ChecksumCRC32C>\s*([^<\s]*)\s*<\/ChecksumCRC32C>/.exec(m[1])?.[1],
    }));
    if (listed.length === 0) {
      return sendError(res, 400, 'MalformedXML', 'The XML you provided lists no parts.', resource);
    }
    const used = [];
    for (let i = 0; i < listed.length; i++) {
      const { partNumber, etag } = listed[i];
      if (i > 0 && !(partNumber > listed[i - 1].partNumber)) {
        return sendError(res, 400, 'InvalidPartOrder', 'The list of parts was not in ascending order.', resource);
      }
      const part = upload.parts.get(partNumber);
      if (!part || part.md5.toString('hex') !== etag.toLowerCase()) {
        return sendError(
          res,
          400,
          'InvalidPart',
          `Part ${partNumber}: ${part ? `ETag ${etag} listed, ${part.md5.toString('hex')} stored` : 'not uploaded'}.`,
          resource,
        );
      }
      if (upload.crc32c && listed[i].crc32c !== crc32cBase64(part.crc32c)) {
        return sendError(res, 400, 'InvalidPart', `Part ${partNumber}: ChecksumCRC32C ${listed[i].crc32c ?? 'missing'} listed, ${crc32cBase64(part.crc32c)} stored.`, resource);
      }
      if (i < listed.length - 1 && part.size < MIN_PART_SIZE) {
        return sendError(res, 400, 'EntityTooSmall', `Part ${partNumber} has ${part.size} bytes, under the 5 MiB minimum.`, resource);
      }
      used.push(part);
    }
    const etag = `${createHash('md5')
      .update(Buffer.concat(used.map((p) => p.md5)))
      .digest('hex')}-${used.length}`;
    let size = 0;
    let pattern = true;
    for (const p of used) {
      pattern &&= isPatternAt(p.head, size);
      size += p.size;
    }
    let composite;
    if (upload.crc32c) {
      const crcs = Buffer.alloc(4 * used.length);
      used.forEach((p, i) => crcs.writeUInt32BE(p.crc32c >>> 0, 4 * i));
      composite = `${crc32cBase64((await loadCrc32c())(crcs))}-${used.length}`;
    }
    objects.set(id, { size, etag, lastModified: new Date(), metadata: upload.metadata, pattern, ...(composite ? { crc32c: composite } : {}) });
    uploads.delete(uploadId);
    totals.completes++;
    return sendXml(
      res,
      200,
      `<CompleteMultipartUploadResult><Location>http://${xmlEscape(req.headers.host ?? '')}${xmlEscape(resource)}</Location>` +
        `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(quoted(etag))}</ETag>` +
        (composite ? `<ChecksumCRC32C>${composite}</ChecksumCRC32C><ChecksumType>COMPOSITE</ChecksumType>` : '') +
        '</CompleteMultipartUploadResult>',
    );
  }

  if (method === 'DELETE' && q.has('uploadId')) {
    // AbortMultipartUpload
    req.resume();
    const upload = uploads.get(q.get('uploadId'));
    if (!upload || upload.bucket !== bucket || upload.key !== key) {
      return sendError(res, 404, 'NoSuchUpload', 'The specified upload does not exist.', resource);
    }
    uploads.delete(q.get('uploadId'));
    totals.aborts++;
    return sendEmpty(res, 204);
  }

  if (method === 'DELETE') {
    // DeleteObject: 204 whether or not it existed, as S3 does.
    req.resume();
    objects.delete(id);
    totals.deletes++;
    return sendEmpty(res, 204);
  }

  if (method === 'HEAD') {
    req.resume();
    totals.heads++;
    const obj = objects.get(id);
    if (!obj) return sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', resource);
    res.writeHead(200, {
      'Content-Length': obj.size,
      ETag: quoted(obj.etag),
      'Last-Modified': obj.lastModified.toUTCString(),
      'Content-Type': 'binary/octet-stream',
      'Accept-Ranges': 'bytes',
      ...(obj.crc32c && String(req.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED'
        ? { 'x-amz-checksum-crc32c': obj.crc32c, 'x-amz-checksum-type': 'COMPOSITE' }
        : {}),
      ...obj.metadata,
    });
    res.end();
    return;
  }

  if (method === 'GET' && [...q.keys()].every((k) => k === 'x-id')) {
    req.resume();
    return getObject(req, res, objects.get(id), resource);
  }

  req.resume();
  return sendError(res, 501, 'NotImplemented', `${method} ${req.url} is not implemented by the discard sink (it stores no data)`, resource);
}

/** GetObject: a kept body or the pattern, whole or one Range (bytes=A-B, A-, -N), If-Match checked. */
async function getObject(req, res, obj, resource) {
  totals.gets++;
  if (!obj) return sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', resource);
  if (!obj.body && !obj.pattern) {
    return sendError(res, 400, 'InvalidRequest', 'the discard sink kept neither this body nor a pattern match (see bench/discard-sink.mjs)', resource);
  }
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && String(ifMatch).replace(/^"|"$/g, '') !== obj.etag) {
    return sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', resource);
  }
  let start = 0;
  let end = obj.size; // exclusive
  const range = req.headers.range;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(String(range));
    if (!m || (m[1] === '' && m[2] === '')) return sendError(res, 400, 'InvalidArgument', `bad Range ${range}`, resource);
    if (m[1] === '') start = Math.max(0, obj.size - Number(m[2]));
    else {
      start = Number(m[1]);
      if (m[2] !== '') end = Math.min(obj.size, Number(m[2]) + 1);
    }
    if (start >= obj.size || start >= end) {
      return sendError(res, 416, 'InvalidRange', 'The requested range is not satisfiable', resource);
    }
  }
  res.writeHead(range === undefined ? 200 : 206, {
    'Content-Length': end - start,
    ...(range === undefined ? {} : { 'Content-Range': `bytes ${start}-${end - 1}/${obj.size}` }),
    ETag: quoted(obj.etag),
    'Last-Modified': obj.lastModified.toUTCString(),
    'Content-Type': 'binary/octet-stream',
    'Accept-Ranges': 'bytes',
    ...obj.metadata,
  });
  totals.getBytes += end - start;
  if (obj.body) res.write(obj.body.subarray(start, end));
  else await writePattern(res, start, end);
  res.end();
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    if (!res.headersSent) sendError(res, 500, 'InternalError', String(err?.message ?? err));
    else res.destroy();
  });
});
server.on('connection', () => totals.connections++);
// Large parts over a slow client must not be cut off; idle keep-alive sockets stay open a while.
server.requestTimeout = 0;
server.headersTimeout = 60_000;
server.keepAliveTimeout = 60_000;

function stop() {
  process.stderr.write(
    `${JSON.stringify({ discardSink: 'stopped', ...totals, objects: objects.size, openUploads: uploads.size })}\n`,
  );
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`DISCARD_SINK_ENDPOINT=http://127.0.0.1:${server.address().port}\n`);
});
