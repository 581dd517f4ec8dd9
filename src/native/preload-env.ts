import {
  WIRE_ENV_DIR,
  WIRE_ENV_LOG,
  WIRE_ENV_RANDOM_LIMIT,
  WIRE_ENV_READ,
  WIRE_ENV_READ_SOCKET,
  WIRE_ENV_SOCKET,
  WIRE_ENV_SOCKET_BUFFER,
  WIRE_ENV_STANDIN,
  WIRE_ENV_TOKEN,
} from '../wire/wire.generated.js';

export interface PreloadSettings {
  /** Absolute path of libdiskless_shim.so (shimPath()). */
  shim: string;
  socket: string;
  /** The uploader's socket for reads of stored files (READ_OPEN); without it nothing stored is read back. */
  readSocket?: string;
  /** The virtual directory, absolute and canonical. */
  dir: string;
  token: string;
  /** Empty private directory a reopen of a stored file gets a descriptor of. */
  standin?: string;
  /** Bytes a random-access (O_RDWR) file may hold in memory. */
  randomAccessLimit?: number;
  /** SO_SNDBUF of each written file's connection (DISKLESS_SOCKET_BUFFER); absent or 0: the kernel's default. */
  socketBuffer?: number;
  /** Shim log level 0-3 (DISKLESS_SHIM_LOG). */
  logLevel?: number;
  /**
   * The directory shows a stored backup, read through the uploader: `only` (run --from) writes fail with EROFS;
   * `beside` (run --from with --to) new names are written, the backup's names are read-only.
   */
  read?: 'only' | 'beside';
}

/**
 * The environment that activates the shim in a child: the shim PREPENDED to any LD_PRELOAD already
 * set (never clobbered), and the variables of native/wire/wire.def. The one place that builds it.
 */
export function preloadEnv(base: NodeJS.ProcessEnv, s: PreloadSettings): NodeJS.ProcessEnv {
  const existing = (base['LD_PRELOAD'] ?? '').split(/[:\s]+/).filter((p) => p && p !== s.shim);
  return {
    ...base,
    LD_PRELOAD: [s.shim, ...existing].join(':'),
    [WIRE_ENV_SOCKET]: s.socket,
    [WIRE_ENV_DIR]: s.dir,
    [WIRE_ENV_TOKEN]: s.token,
    ...(s.readSocket !== undefined ? { [WIRE_ENV_READ_SOCKET]: s.readSocket } : {}),
    ...(s.standin !== undefined ? { [WIRE_ENV_STANDIN]: s.standin } : {}),
    ...(s.randomAccessLimit !== undefined ? { [WIRE_ENV_RANDOM_LIMIT]: String(s.randomAccessLimit) } : {}),
    ...(s.socketBuffer ? { [WIRE_ENV_SOCKET_BUFFER]: String(s.socketBuffer) } : {}),
    ...(s.logLevel !== undefined ? { [WIRE_ENV_LOG]: String(s.logLevel) } : {}),
    ...(s.read ? { [WIRE_ENV_READ]: s.read === 'only' ? '1' : '2' } : {}),
  };
}

/** The same settings as shell `export` lines, for `diskless serve`. */
export function exportLines(s: PreloadSettings, base: NodeJS.ProcessEnv = {}): string[] {
  const env = preloadEnv(base, s);
  return ['LD_PRELOAD', WIRE_ENV_SOCKET, ...(s.readSocket !== undefined ? [WIRE_ENV_READ_SOCKET] : []), WIRE_ENV_DIR, WIRE_ENV_TOKEN, ...(s.standin !== undefined ? [WIRE_ENV_STANDIN] : []), ...(s.randomAccessLimit !== undefined ? [WIRE_ENV_RANDOM_LIMIT] : []), ...(s.socketBuffer ? [WIRE_ENV_SOCKET_BUFFER] : []), ...(s.logLevel !== undefined ? [WIRE_ENV_LOG] : [])].map(
    (k) => `export ${k}=${shellWord(env[k] ?? '')}`,
  );
}

function shellWord(v: string): string {
  return /^[\w@%+=:,./-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
