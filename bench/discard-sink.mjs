#!/usr/bin/env node
// Discard sink: a minimal S3-compatible HTTP server for benchmarks (Node, no dependencies).
//
//   node bench/discard-sink.mjs [PORT]        (PORT 0 or absent: a random free port)
//
// Listens on 127.0.0.1 only and prints `DISCARD_SINK_ENDPOINT=http://127.0.0.1:PORT` on stdout
// when it is ready. It reads and drops every request body while computing its MD5, and keeps
// only sizes, ETags (and the few x-amz-meta-* headers) in memory, so it costs no disk and almost
// no memory: it isolates the client's cost. It is not free: its MD5 costs about 2.4 CPU-s per
// GiB, which on a small machine competes with the client for the same cores.
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
//   DeleteObject              DELETE /b/k
//   ListMultipartUploads      GET    /b?uploads[&prefix=P]    (the open ones, never truncated)
//   ListObjectsV2 / V1        GET    /b?list-type=2 | GET /b  (the recorded keys: prefix, delimiter,
//                                     max-keys, continuation-token/start-after or marker; what
//                                     `rclone copy` asks before it uploads)
//   CreateBucket/HeadBucket/DeleteBucket: accepted, no effect.
// Content-MD5, when sent, is checked (400 BadDigest on mismatch). aws-chunked bodies (streaming
// signatures, checksum trailers) are refused with 501: send plain bodies.
//
// On SIGTERM/SIGINT it prints one JSON line of totals on stderr and exits 0.
// DISCARD_SINK_VERBOSE=1 prints every request line and its headers on stderr (what a client sends).

import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';

const MIN_PART_SIZE = 5 * 1024 * 1024;

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node bench/discard-sink.mjs [PORT]  (got ${process.argv[2]})`);
  process.exit(2);
}

/** "bucket/key" -> { size, etag (hex, may end in -N), lastModified, metadata } */
const objects = new Map();
/** uploadId -> { bucket, key, initiated, metadata, parts: Map<partNumber, { size, md5 (Buffer) }> } */
const uploads = new Map();
const totals = { connections: 0, requests: 0, bodyBytes: 0, puts: 0, parts: 0, completes: 0, aborts: 0, heads: 0, deletes: 0, lists: 0, errors: 0 };

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

/** Reads the body to its end, hashing and dropping it. Resolves { size, md5 (Buffer) }. */
function drain(req) {
  return new Promise((resolve, reject) => {
    const md5 = createHash('md5');
    let size = 0;
    req.on('data', (chunk) => {
      md5.update(chunk);
      size += chunk.length;
    });
    req.on('end', () => {
      totals.bodyBytes += size;
      resolve({ size, md5: md5.digest() });
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

/** Drains the body and checks Content-MD5 (if sent) and Content-Length. Returns the body or undefined after answering. */
async function receiveBody(req, res, resource) {
  const encoding = String(req.headers['content-encoding'] ?? '');
  const sha = String(req.headers['x-amz-content-sha256'] ?? '');
  if (encoding.includes('aws-chunked') || sha.startsWith('STREAMING-')) {
    req.resume();
    sendError(res, 501, 'NotImplemented', 'the discard sink does not decode aws-chunked bodies; send plain bodies', resource);
    return undefined;
  }
  const body = await drain(req);
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
    const body = await receiveBody(req, res, resource);
    if (!body) return;
    if (!uploads.has(q.get('uploadId'))) {
      return sendError(res, 404, 'NoSuchUpload', 'The upload was aborted while the part was sent.', resource);
    }
    upload.parts.set(partNumber, body);
    totals.parts++;
    return sendEmpty(res, 200, { ETag: quoted(body.md5.toString('hex')) });
  }

  if (method === 'PUT') {
    // PutObject (CopyObject is not supported).
    if (req.headers['x-amz-copy-source']) {
      req.resume();
      return sendError(res, 501, 'NotImplemented', 'CopyObject is not implemented by the discard sink', resource);
    }
    const body = await receiveBody(req, res, resource);
    if (!body) return;
    const etag = body.md5.toString('hex');
    objects.set(id, { size: body.size, etag, lastModified: new Date(), metadata: userMetadata(req.headers) });
    totals.puts++;
    return sendEmpty(res, 200, { ETag: quoted(etag) });
  }

  if (method === 'POST' && q.has('uploads')) {
    // CreateMultipartUpload
    req.resume();
    const uploadId = randomUUID().replace(/-/g, '');
    uploads.set(uploadId, { bucket, key, initiated: new Date(), metadata: userMetadata(req.headers), parts: new Map() });
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
      if (i < listed.length - 1 && part.size < MIN_PART_SIZE) {
        return sendError(res, 400, 'EntityTooSmall', `Part ${partNumber} has ${part.size} bytes, under the 5 MiB minimum.`, resource);
      }
      used.push(part);
    }
    const etag = `${createHash('md5')
      .update(Buffer.concat(used.map((p) => p.md5)))
      .digest('hex')}-${used.length}`;
    const size = used.reduce((n, p) => n + p.size, 0);
    objects.set(id, { size, etag, lastModified: new Date(), metadata: upload.metadata });
    uploads.delete(uploadId);
    totals.completes++;
    return sendXml(
      res,
      200,
      `<CompleteMultipartUploadResult><Location>http://${xmlEscape(req.headers.host ?? '')}${xmlEscape(resource)}</Location>` +
        `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(quoted(etag))}</ETag>` +
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
      ...obj.metadata,
    });
    res.end();
    return;
  }

  req.resume();
  return sendError(res, 501, 'NotImplemented', `${method} ${req.url} is not implemented by the discard sink (it stores no data)`, resource);
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
