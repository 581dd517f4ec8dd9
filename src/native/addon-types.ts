/**
 * The exact shape of what `build/Release/diskless_addon.node` exports
 * (see native/addon/addon.cc). Keep the two in sync; `loadAddon()` checks at
 * load time that every member listed here is present.
 *
 * The native functions only check argument types (throwing TypeError);
 * range checks belong in the TypeScript wrappers (src/checksum/crc32c.ts).
 */

/** Which CRC32C implementation the addon uses on this CPU. */
export type Crc32cImplementationName = 'sse4.2' | 'portable';

export interface DisklessAddon {
  /**
   * CRC32C (Castagnoli) of the bytes viewed by `data` (any typed array; its
   * bytes from byteOffset for byteLength), continuing from `previous`, the
   * value returned by an earlier call (default 0 = start). Uses SSE4.2 when the
   * CPU has it. `previous` is converted with ToUint32.
   */
  readonly crc32c: (data: NodeJS.TypedArray, previous?: number) => number;
  /** As `crc32c`, always using the portable slicing-by-8 implementation. */
  readonly crc32cPortable: (data: NodeJS.TypedArray, previous?: number) => number;
  /** The implementation `crc32c` uses on this CPU. */
  readonly crc32cImplementation: () => Crc32cImplementationName;
  /** The CRC32C of A followed by B from A's CRC, B's CRC and B's length (zlib's crc32_combine). */
  readonly crc32cCombine: (crc1: number, crc2: number, len2: number) => number;
  /**
   * MD5 and CRC32C of the concatenated chunks, in one pass on a thread-pool thread (MD5 from
   * Node's own OpenSSL). The chunks must not change until the promise settles.
   */
  /** `withMd5` false: only the CRC32C (a part sent with a CRC32C checksum needs no MD5); md5 is then absent. */
  readonly hashPart: (chunks: readonly Uint8Array[], withMd5?: boolean) => Promise<PartDigest>;
  /**
   * Seals `plaintext` as age STREAM chunks `firstCounter`, `firstCounter + 1`, … (64 KiB each,
   * ChaCha20-Poly1305 from Node's OpenSSL, the last one flagged final when `lastIsFinal`) into
   * `out`, each chunk as its ciphertext then its 16-byte tag, on a thread-pool thread, with the
   * plaintext's CRC32C in the same pass. Only a final run may end short of a whole chunk, or be
   * empty (one empty chunk). The key is copied by the call; `plaintext` and `out` (which must not
   * overlap) must not change until the promise settles. Throws RangeError when `out` is too small.
   */
  readonly sealChunks: (key: Uint8Array, firstCounter: number, plaintext: Uint8Array, out: Uint8Array, lastIsFinal: boolean) => Promise<ChunkRun>;
  /**
   * The reverse of `sealChunks`: opens whole sealed chunks (64 KiB + 16; only a final run may end
   * short, holding at least its tag) into `out`, stopping at the first chunk that does not
   * authenticate (`failed`, its index in the run, else -1); `bytes` and `crc32c` are of the
   * plaintext of the chunks before it, and nothing in `out` past `bytes` may be used.
   */
  readonly openChunks: (key: Uint8Array, firstCounter: number, sealed: Uint8Array, out: Uint8Array, lastIsFinal: boolean) => Promise<OpenedRun>;

  /** Credentials of the peer of a connected Unix socket (SO_PEERCRED); throws with `code` on failure. */
  readonly peerCredentials: (fd: number) => PeerCredentials;
  /** Whether the peer of a connected socket will send nothing more, even with its bytes still unread (poll POLLRDHUP). */
  readonly peerHungUp: (fd: number) => boolean;
  /** Whether every holder of the other end of a connected Unix socket closed it (poll POLLHUP), not only shut its write side down. */
  readonly peerClosed: (fd: number) => boolean;
  /** prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process. */
  readonly setChildSubreaper: (on: boolean) => void;
  /** waitpid(pid, WNOHANG): the exit of a re-parented orphan, or null while it runs. */
  readonly reapChild: (pid: number) => ReapedChild | null;
  /** pipe2(O_CLOEXEC): [readFd, writeFd]. */
  readonly pipe: () => [number, number];
  /** Clears O_NONBLOCK on fd. */
  readonly setBlocking: (fd: number) => void;
  /** fcntl(F_DUPFD_CLOEXEC): a duplicate of fd, close-on-exec. */
  readonly dupFd: (fd: number) => number;
  /** The bytes already queued on a socket, up to `max`, taken without waiting (recv MSG_DONTWAIT); empty when none are. */
  readonly recvQueued: (fd: number, max: number) => Buffer;
  /** F_SETPIPE_SZ up to `bytes` (else pipe-max-size) when fd is a pipe: its size after, 0 if not a pipe. */
  readonly growPipe: (fd: number, bytes: number) => number;
}

export interface PartDigest {
  /** Absent when the hash was asked without it. */
  md5?: Buffer;
  /** CRC32C as an unsigned 32-bit integer. */
  crc32c: number;
}

export interface ChunkRun {
  /** Bytes written to `out`. */
  bytes: number;
  /** CRC32C of the run's plaintext, unsigned. */
  crc32c: number;
}

export interface OpenedRun extends ChunkRun {
  /** Index in the run of the first chunk that does not authenticate; -1 when all do. */
  failed: number;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface ReapedChild {
  pid: number;
  /** Exit code, or null if killed by a signal. */
  code: number | null;
  /** Signal number that killed it, or null. */
  signal: number | null;
}
