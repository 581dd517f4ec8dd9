#!/usr/bin/env node
// Property fuzzing of the TypeScript frame codec (src/wire/frame-codec.ts): used by the unit test
// test/unit/wire/frame-codec-property.test.ts (fixed seed, a few thousand cases) and by bench/fuzz.sh
// (`node bench/frame-codec-fuzz.mjs SECONDS`, against dist/, random seed), which prints the number of
// cases and exits 1 on the first failure, with its seed and case number to replay it.
//
// Properties, for a codec { encodeFrame, takeFrame, WireError, MESSAGES, WIRE_HEADER_SIZE, WIRE_MAX_PAYLOAD }:
//  1. round trip: any message of any type encodes, and takeFrame gives back the same fields and no rest;
//  2. streaming: several frames fed in random slices decode to the same messages in order;
//  3. hostile bytes: takeFrame on random or mutated bytes returns undefined, a message, or throws a
//     WireError, nothing else; a message it returns re-encodes to exactly the bytes it consumed.

/** xorshift32: a small seeded generator, so a failing case can be replayed. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return { next, below: (n) => next() % n, bytes: (n) => Buffer.from(Array.from({ length: n }, () => next() & 0xff)) };
}

function randomValue(r, kind) {
  switch (kind) {
    case 'str': {
      const n = r.below(8) === 0 ? r.below(4096) : r.below(40);
      return r.bytes(n);
    }
    case 'u32': return r.next();
    case 'i32': return r.next() | 0;
    case 'u64': return (BigInt(r.next()) << 32n) | BigInt(r.next());
    case 'i64': return BigInt.asIntN(64, (BigInt(r.next()) << 32n) | BigInt(r.next()));
    default: throw new Error(`unknown kind ${kind}`);
  }
}

function randomMessage(codec, r) {
  const names = Object.keys(codec.MESSAGES);
  const name = names[r.below(names.length)];
  const fields = {};
  for (const [field, kind] of codec.MESSAGES[name].fields) fields[field] = randomValue(r, kind);
  return { name, fields };
}

function same(a, b) {
  if (Buffer.isBuffer(a)) return Buffer.isBuffer(b) && a.equals(b);
  return a === b;
}

function fail(what, details) {
  const err = new Error(`${what}: ${details}`);
  err.name = 'PropertyFailure';
  throw err;
}

function checkDecoded(codec, msg, got) {
  if (!got || got.message.name !== msg.name) fail('round trip', `${msg.name} came back as ${got?.message.name}`);
  for (const [field] of codec.MESSAGES[msg.name].fields) {
    if (!same(msg.fields[field], got.message.fields[field])) fail('round trip', `${msg.name}.${field} differs`);
  }
}

/** One case of each property. Throws a PropertyFailure (or the unexpected error) when one does not hold. */
export function checkCase(codec, r) {
  // 1. round trip
  const msg = randomMessage(codec, r);
  const frame = codec.encodeFrame(msg.name, msg.fields);
  const got = codec.takeFrame(frame);
  checkDecoded(codec, msg, got);
  if (got.rest.length !== 0) fail('round trip', `${got.rest.length} bytes left over`);
  // A frame cut anywhere is not a frame yet.
  const cut = r.below(frame.length);
  if (codec.takeFrame(frame.subarray(0, cut)) !== undefined) fail('truncation', `a frame cut at ${cut} of ${frame.length} decoded`);

  // 2. streaming, in random slices
  const msgs = [msg, randomMessage(codec, r), randomMessage(codec, r)];
  const stream = Buffer.concat(msgs.map((m) => codec.encodeFrame(m.name, m.fields)));
  let buffered = Buffer.alloc(0);
  const out = [];
  for (let off = 0; off < stream.length; ) {
    const n = 1 + r.below(Math.min(stream.length - off, 1 + r.below(512)));
    buffered = Buffer.concat([buffered, stream.subarray(off, off + n)]);
    off += n;
    for (let f = codec.takeFrame(buffered); f; f = codec.takeFrame(buffered)) {
      out.push(f);
      buffered = f.rest;
    }
  }
  if (out.length !== msgs.length || buffered.length !== 0) fail('streaming', `${out.length} of ${msgs.length} frames, ${buffered.length} bytes left`);
  out.forEach((f, i) => checkDecoded(codec, msgs[i], f));

  // 3. hostile bytes: random, or a valid frame with bytes flipped
  const hostile = r.below(2) === 0 ? r.bytes(r.below(64)) : Buffer.from(frame);
  if (hostile === frame || hostile.length === frame.length) {
    for (let i = 0, flips = 1 + r.below(4); i < flips && hostile.length > 0; i++) hostile[r.below(hostile.length)] = r.next() & 0xff;
  }
  let decoded;
  try {
    decoded = codec.takeFrame(hostile);
  } catch (err) {
    if (err instanceof codec.WireError) return;
    fail('hostile bytes', `takeFrame threw ${err?.name}: ${err?.message}`);
  }
  if (decoded) {
    const consumed = hostile.subarray(0, hostile.length - decoded.rest.length);
    const again = codec.encodeFrame(decoded.message.name, decoded.message.fields);
    if (!again.equals(consumed)) fail('hostile bytes', `a decoded ${decoded.message.name} re-encodes differently`);
  }
}

/** Runs cases until `seconds` are spent; returns how many ran. */
export function fuzzFor(codec, seconds, seed) {
  const deadline = Date.now() + seconds * 1000;
  const r = rng(seed);
  let cases = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 100; i++, cases++) {
      try {
        checkCase(codec, r);
      } catch (err) {
        err.message += ` (seed ${seed}, case ${cases})`;
        throw err;
      }
    }
  }
  return cases;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 10);
  const seed = Number(process.env.SEED ?? (Date.now() & 0xffffffff));
  const codec = {
    ...(await import('../dist/wire/frame-codec.js')),
    ...(await import('../dist/wire/wire.generated.js')),
  };
  try {
    const cases = fuzzFor(codec, seconds, seed);
    console.log(`frame-codec-fuzz: ${cases} cases in ${seconds} s, 0 failures (seed ${seed})`);
  } catch (err) {
    console.error(`frame-codec-fuzz: FAILED: ${err.message}`);
    process.exit(1);
  }
}
