import { MESSAGES, WIRE_HEADER_SIZE, WIRE_MAX_PAYLOAD, WIRE_VERSION } from './wire.generated.js';

/** Encoding and decoding of the frames specified in native/wire/wire.def. */

export type MessageName = keyof typeof MESSAGES;
type FieldKind = 'str' | 'u32' | 'i32' | 'u64' | 'i64';
type Fields<N extends MessageName> = (typeof MESSAGES)[N]['fields'];
type ValueOf<K> = K extends 'str' ? Buffer : K extends 'u64' | 'i64' ? bigint : number;
type EncodeValueOf<K> = K extends 'str' ? Buffer | string : K extends 'u64' | 'i64' ? number | bigint : number;

/** The decoded fields of message N: strings as raw bytes (paths need not be UTF-8), 32-bit integers as numbers, 64-bit ones as bigints. */
export type Message<N extends MessageName> = { [F in Fields<N>[number] as F[0]]: ValueOf<F[1]> };
export type MessageInput<N extends MessageName> = { [F in Fields<N>[number] as F[0]]: EncodeValueOf<F[1]> };

export type AnyMessage = { [N in MessageName]: { name: N; fields: Message<N> } }[MessageName];

const BY_TYPE = new Map<number, MessageName>(
  (Object.keys(MESSAGES) as MessageName[]).map((name) => [MESSAGES[name].type, name]),
);

/** A frame that breaks the protocol: the connection that sent it is closed. */
export class WireError extends Error {
  override readonly name = 'WireError';
}

/**
 * One frame of message `name`: its header and fields, written into one buffer (sizes first, then the bytes: no
 * buffer per field, no concatenation; every file costs a few frames).
 */
export function encodeFrame<N extends MessageName>(name: N, input: MessageInput<N>): Buffer {
  const values = input as Record<string, Buffer | string | number | bigint>;
  const fields = MESSAGES[name].fields as ReadonlyArray<readonly [string, FieldKind]>;
  const strings: Array<Buffer | undefined> = [];
  let size = 0;
  for (const [field, kind] of fields) {
    const v = values[field];
    if (v === undefined) throw new WireError(`${name}: field ${field} missing`);
    if (kind === 'str') {
      const bytes = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.isBuffer(v) ? v : undefined;
      if (!bytes) throw new WireError(`${name}.${field}: expected a string`);
      strings.push(bytes);
      size += 4 + bytes.length;
    } else {
      if (typeof v === 'bigint' ? kind !== 'u64' && kind !== 'i64' : typeof v !== 'number' || !Number.isInteger(v)) {
        throw new WireError(`${name}.${field}: expected an integer`);
      }
      strings.push(undefined);
      size += integerWidth(kind);
    }
  }
  if (size > WIRE_MAX_PAYLOAD) throw new WireError(`${name}: payload of ${size} bytes exceeds ${WIRE_MAX_PAYLOAD}`);
  const frame = Buffer.allocUnsafe(WIRE_HEADER_SIZE + size);
  frame.writeUInt32LE(size, 0);
  frame.writeUInt16LE(MESSAGES[name].type, 4);
  frame.writeUInt16LE(WIRE_VERSION, 6);
  let at = WIRE_HEADER_SIZE;
  for (const [i, [field, kind]] of fields.entries()) {
    const bytes = strings[i];
    if (bytes) {
      frame.writeUInt32LE(bytes.length, at);
      at += 4 + bytes.copy(frame, at + 4);
    } else at = encodeInteger(frame, at, kind, values[field] as number | bigint, `${name}.${field}`);
  }
  return frame;
}

/** Bytes of an integer field of `kind` on the wire. */
function integerWidth(kind: FieldKind): number {
  return kind === 'u64' || kind === 'i64' ? 8 : 4;
}

/** Writes integer `v` of `kind` at `at`; returns where the next field starts. */
function encodeInteger(frame: Buffer, at: number, kind: FieldKind, v: number | bigint, what: string): number {
  try {
    if (kind === 'u32') return frame.writeUInt32LE(Number(v), at);
    if (kind === 'i32') return frame.writeInt32LE(Number(v), at);
    if (kind === 'u64') return frame.writeBigUInt64LE(BigInt(v), at);
    return frame.writeBigInt64LE(BigInt(v), at);
  } catch (err) {
    throw new WireError(`${what}: ${String(v)} is out of range`, { cause: err });
  }
}

/** Reads the integer of `kind` at `at`: 32-bit ones as numbers, 64-bit ones as bigints. */
function readInteger(payload: Buffer, at: number, kind: FieldKind): number | bigint {
  if (kind === 'u32') return payload.readUInt32LE(at);
  if (kind === 'i32') return payload.readInt32LE(at);
  if (kind === 'u64') return payload.readBigUInt64LE(at);
  return payload.readBigInt64LE(at);
}

/** Decodes one frame's payload; throws WireError when the fields do not fill it exactly. */
export function decodePayload(type: number, payload: Buffer): AnyMessage {
  const name = BY_TYPE.get(type);
  if (!name) throw new WireError(`unknown message type ${type}`);
  const fields: Record<string, Buffer | number | bigint> = {};
  let off = 0;
  const need = (n: number, field: string) => {
    if (off + n > payload.length) throw new WireError(`${name}.${field}: truncated frame`);
  };
  for (const [field, kind] of MESSAGES[name].fields as ReadonlyArray<readonly [string, FieldKind]>) {
    if (kind === 'str') {
      need(4, field);
      const n = payload.readUInt32LE(off);
      off += 4;
      need(n, field);
      fields[field] = payload.subarray(off, off + n);
      off += n;
    } else {
      const width = integerWidth(kind);
      need(width, field);
      fields[field] = readInteger(payload, off, kind);
      off += width;
    }
  }
  if (off !== payload.length) throw new WireError(`${name}: ${payload.length - off} bytes after the last field`);
  return { name, fields } as AnyMessage;
}

/**
 * Reads one frame from the front of a byte stream. Returns undefined until the frame is complete;
 * then the message and the bytes after it (on a file connection: the first raw data bytes).
 */
export function takeFrame(buffered: Buffer): { message: AnyMessage; rest: Buffer } | undefined {
  if (buffered.length < WIRE_HEADER_SIZE) return undefined;
  const length = buffered.readUInt32LE(0);
  const type = buffered.readUInt16LE(4);
  const version = buffered.readUInt16LE(6);
  if (version !== WIRE_VERSION) throw new WireError(`protocol version ${version}, expected ${WIRE_VERSION}`);
  if (length > WIRE_MAX_PAYLOAD) throw new WireError(`frame of ${length} bytes exceeds ${WIRE_MAX_PAYLOAD}`);
  if (buffered.length < WIRE_HEADER_SIZE + length) return undefined;
  const message = decodePayload(type, buffered.subarray(WIRE_HEADER_SIZE, WIRE_HEADER_SIZE + length));
  return { message, rest: buffered.subarray(WIRE_HEADER_SIZE + length) };
}
