import { accessSync, constants, openSync, readSync, closeSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';

const PT_INTERP = 3;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;

/** Finds `name` as the shell would: a path if it has a slash, else the first executable in PATH. */
export function resolveCommand(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = name.includes('/') ? [name] : (env['PATH'] ?? '').split(delimiter).filter(Boolean).map((d) => join(d, name));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) {
        accessSync(c, constants.X_OK);
        return c;
      }
    } catch {
      // not here
    }
  }
  throw new UsageError(`command not found: ${name} (check the name and PATH)`);
}

/**
 * Checks that the LD_PRELOAD shim can reach `name`: a dynamically linked program (or a script whose
 * interpreter is one), not setuid/setgid. Otherwise the files it writes would land on local disk.
 */
export function checkInterposable(name: string, env: NodeJS.ProcessEnv = process.env, depth = 0): string {
  const file = resolveCommand(name, env);
  const st = statSync(file);
  const alternative = `if it can write to stdout, use \`diskless put s3://BUCKET/KEY -- ${name} …\` instead`;
  if (st.mode & (S_ISUID | S_ISGID)) {
    throw new UsageError(`${file} is setuid or setgid: the dynamic loader ignores LD_PRELOAD for it, so diskless cannot capture its files; ${alternative}`);
  }
  const head = readHead(file, 4096);
  if (head.subarray(0, 2).toString() === '#!') {
    const interpreter = head.subarray(2, head.indexOf(10) > 0 ? head.indexOf(10) : head.length).toString().trim().split(/\s+/)[0];
    if (!interpreter || depth >= 4) throw new UsageError(`${file}: cannot follow its #! line`);
    checkInterposable(interpreter, env, depth + 1);
    return file;
  }
  if (!head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    throw new UsageError(`${file} is neither an ELF program nor a #! script`);
  }
  if (!hasInterpreter(head, file)) {
    throw new UsageError(`${file} is statically linked: LD_PRELOAD cannot reach it, so diskless cannot capture its files; ${alternative}`);
  }
  return file;
}

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Whether an ELF file has a PT_INTERP program header (i.e. is dynamically linked). */
function hasInterpreter(head: Buffer, file: string): boolean {
  const is64 = head[4] === 2;
  const little = head[5] === 1;
  const u16 = (o: number) => (little ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number) => (little ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const phoff = is64 ? Number(little ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const table = phoff + phentsize * phnum <= head.length ? head : readHead(file, phoff + phentsize * phnum);
  for (let i = 0; i < phnum; i++) {
    const type = little ? table.readUInt32LE(phoff + i * phentsize) : table.readUInt32BE(phoff + i * phentsize);
    if (type === PT_INTERP) return true;
  }
  return false;
}
