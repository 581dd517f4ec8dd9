// Generated from native/wire/wire.def by scripts/gen-wire.mjs: do not edit (run `npm run gen:wire`).

export const WIRE_VERSION = 1;
export const WIRE_HEADER_SIZE = 8;
export const WIRE_MAX_PAYLOAD = 65536;
export const WIRE_MAX_PATH = 4096;
export const WIRE_MAX_MESSAGE = 1024;
export const WIRE_TOKEN_SIZE = 64;
export const WIRE_END_CLOSE = 1;
export const WIRE_END_EXIT = 2;
export const WIRE_END_EXEC = 3;
export const WIRE_END_REPLACED = 4;
export const WIRE_ENV_SOCKET = 'DISKLESS_SOCKET';
export const WIRE_ENV_DIR = 'DISKLESS_DIR';
export const WIRE_ENV_TOKEN = 'DISKLESS_TOKEN';
export const WIRE_ENV_LOG = 'DISKLESS_SHIM_LOG';
export const WIRE_ENV_STANDIN = 'DISKLESS_STANDIN';
export const WIRE_ENV_RANDOM_LIMIT = 'DISKLESS_RANDOM_ACCESS_LIMIT';
export const WIRE_ENV_READ = 'DISKLESS_READ';
export const WIRE_ENV_READ_SOCKET = 'DISKLESS_READ_SOCKET';
export const WIRE_ENV_SOCKET_BUFFER = 'DISKLESS_SOCKET_BUFFER';

export const MESSAGES = {
  OPEN: { type: 1, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str'], ['flags', 'u32'], ['mode', 'u32'], ['pid', 'u32']] },
  RENAME: { type: 2, direction: 'shim->uploader', fields: [['token', 'str'], ['from', 'str'], ['to', 'str']] },
  UNLINK: { type: 3, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str']] },
  STAT: { type: 4, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str']] },
  REPLY: { type: 101, direction: 'uploader->shim', fields: [['err', 'i32'], ['message', 'str']] },
  RESULT: { type: 102, direction: 'uploader->shim', fields: [['err', 'i32'], ['size', 'u64'], ['message', 'str']] },
  STAT_REPLY: { type: 103, direction: 'uploader->shim', fields: [['err', 'i32'], ['size', 'u64'], ['mtime_ns', 'i64'], ['message', 'str']] },
  FAIL: { type: 5, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str'], ['message', 'str']] },
  RENAME_DIR: { type: 6, direction: 'shim->uploader', fields: [['token', 'str'], ['from', 'str'], ['to', 'str']] },
  END: { type: 7, direction: 'shim->uploader', fields: [['token', 'str'], ['file', 'u64'], ['how', 'u32']] },
  HANDLE: { type: 104, direction: 'uploader->shim', fields: [['file', 'u64']] },
  READ_OPEN: { type: 8, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str'], ['offset', 'u64'], ['pid', 'u32']] },
  SYNC: { type: 9, direction: 'shim->uploader', fields: [['token', 'str'], ['path', 'str']] },
} as const;
