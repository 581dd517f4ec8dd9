import { spawn, type ChildProcess } from 'node:child_process';
import { Crc32c } from '../checksum/crc32c.js';
import { createHash } from 'node:crypto';
import type { AgeDecryptor } from '../crypto/age-stream.js';
import type { ReadContext } from '../download/object-reader.js';
import { ProducerError, VerificationError } from '../errors.js';
import { readRanged, type RangedReadOptions } from '../verify/ranged-reader.js';
import type { RestoreItem } from './restore-item.js';

/** The create flags of src/snapshot/tar-stream.ts that an extraction must repeat to get the metadata back. */
const METADATA_FLAGS = ['--xattrs', '--acls', '--selinux', '--numeric-owner', '--sparse'];

/**
 * tar's extract command for an archive made by `tarCommand` (as the snapshot manifest records
 * it): the same metadata flags (xattrs and their include patterns, ACLs, SELinux labels, numeric
 * owners), permissions as archived. `--selinux` is dropped where the host has no SELinux (tar
 * would fail to set labels it cannot hold), and said in `notes`.
 */
export function extractArgv(tarCommand: readonly string[], dir: string, selinux: boolean): { argv: string[]; notes: string[] } {
  const notes: string[] = [];
  const flags = tarCommand.filter((a) => METADATA_FLAGS.includes(a) || a.startsWith('--xattrs-include=') || a.startsWith('--xattrs-exclude='));
  const kept = flags.filter((f) => f !== '--sparse' && (f !== '--selinux' || selinux));
  if (flags.includes('--selinux') && !selinux) notes.push('SELinux labels in the archive are not restored: this host has no SELinux');
  return { argv: ['tar', '--extract', '--file=-', `--directory=${dir}`, ...kept, '--preserve-permissions'], notes };
}

/** The decompressor for a compressor command recorded in the manifest (zstd, gzip), or none. */
export function decompressorArgv(compressCommand: readonly string[] | undefined): string[] | undefined {
  const tool = compressCommand?.[0];
  if (!tool) return undefined;
  if (/(^|\/)zstd$/.test(tool)) return ['zstd', '-d', '-q', '-c'];
  if (/(^|\/)gzip$/.test(tool)) return ['gzip', '-d', '-c'];
  if (/(^|\/)xz$/.test(tool)) return ['xz', '-d', '-c'];
  throw new ProducerError(`the archive was compressed with ${tool}, which restore does not know; use diskless get URL | ${tool} -d | tar -x`);
}

interface Proc {
  argv: string[];
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
}

/**
 * Streams an archive's objects (parallel ranged GETs) into [decompressor |] tar -x in `dir`,
 * checking CRC32C (and SHA-256 when recorded) of the archive bytes. Throws when a checksum
 * differs or a process fails: the caller then removes `dir`.
 */
export async function extractArchive(
  ctx: ReadContext,
  bucket: string,
  item: RestoreItem,
  commands: string[][],
  read: RangedReadOptions,
  onBytes?: (n: number) => void,
  decrypt?: AgeDecryptor,
): Promise<void> {
  let stderr = '';
  const procs: Proc[] = [];
  for (const argv of commands) {
    const previous = procs[procs.length - 1];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [previous ? previous.child.stdout! : 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8192)));
    const exited = new Promise<Proc['exited'] extends Promise<infer T> ? T : never>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    procs.push({ argv, child, exited });
  }
  procs[procs.length - 1]!.child.stdout!.resume();
  const input = procs[0]!.child.stdin!;
  let inputError: Error | undefined;
  input.on('error', (e) => (inputError = e));
  const whole = new Crc32c();
  const sha = item.sha256 ? createHash('sha256') : undefined;
  // Each range is a reused buffer (readRanged), valid only until the next is asked for: every write is waited for
  // until the pipe has it, not only until 'drain'. A failed write (the extractor died) ends the feeding; the
  // extractor's exit status then says why.
  const feed = async (chunks: Buffer[] | Uint8Array[]) => {
    for (const c of chunks) {
      if (inputError) return;
      await new Promise<void>((resolve) => input.write(c, (err) => {
        if (err) inputError ??= err;
        resolve();
      }));
    }
  };
  try {
    for (const piece of item.pieces) {
      const ref = { bucket, key: piece.key, size: piece.size, ...(piece.etag ? { etag: piece.etag } : {}) };
      for await (const chunk of readRanged(ctx, ref, read)) {
        whole.update(chunk);
        sha?.update(chunk);
        if (inputError) break;
        await feed(decrypt ? await decrypt.push(chunk) : [chunk]);
        onBytes?.(chunk.length);
      }
    }
    // The last chunk of an age stream authenticates only at its end: before that, tar has not seen the end of the archive.
    if (decrypt && !inputError) await feed(await decrypt.finish());
  } catch (err) {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    throw err;
  }
  input.end();
  const results = await Promise.all(procs.map((p) => p.exited));
  const failed = () =>
    results.forEach((r, i) => {
      const argv = procs[i]!.argv;
      if (r.error) throw new ProducerError(`cannot start ${argv[0]}: ${r.error.message}`, {}, { cause: r.error });
      if (r.code !== 0) {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        throw new ProducerError(`${argv.join(' ')} ${r.signal ? `was killed by ${r.signal}` : `exited with status ${r.code}`}${tail ? `: ${tail}` : ''}`, { exitStatus: r.code, signal: r.signal });
      }
    });
  if (inputError) {
    // The extractor stopped reading before the end: the archive was not read whole, so its checksums say nothing.
    failed();
    throw new ProducerError(`${procs[0]!.argv.join(' ')} stopped reading the archive before its end (${inputError.message})`);
  }
  if (item.crc32c && whole.hex() !== item.crc32c) throw new VerificationError(`CRC32C ${whole.hex()}, the manifest says ${item.crc32c}`);
  const plain = item.encryption;
  if (decrypt && plain && decrypt.plaintextCrc32c !== plain.plaintextCrc32c) {
    throw new VerificationError(`decrypted CRC32C ${decrypt.plaintextCrc32c}, the manifest says ${plain.plaintextCrc32c}`);
  }
  const digest = sha?.digest('hex');
  if (digest && digest !== item.sha256) throw new VerificationError(`SHA-256 ${digest}, the manifest says ${item.sha256}`);
  failed();
}
