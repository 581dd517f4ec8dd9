const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Offset of the first byte that does not begin (or continue) a valid UTF-8 sequence; -1 if all are valid. */
export function firstInvalidByte(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0) return i;
    try {
      utf8.decode(bytes.subarray(i, i + len));
    } catch {
      return i;
    }
    i += len;
  }
  return -1;
}

/** Bytes as printable ASCII, others as \xNN: `n\xff`. */
export function escapeBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/** The message part naming the first byte of `bytes` that is not UTF-8. */
export function describeInvalidUtf8(bytes: Uint8Array): string {
  const at = firstInvalidByte(bytes);
  return `has the byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at offset ${at}, which is not valid UTF-8`;
}
