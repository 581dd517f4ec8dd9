import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import type { ObjectRef } from './object-store.js';
import { isAlive } from '../process/is-alive.js';
import { normaliseEndpoint } from '../s3/s3-url.js';

export interface JournalEntry extends ObjectRef {
  uploadId: string;
  /** Which store (endpoint) the upload lives in. */
  store: string;
}

interface StoredEntry extends JournalEntry {
  pid: number;
  host: string;
  created: string;
}

/**
 * A small record per open multipart upload, in the state directory (metadata only: no backup
 * data touches the disk). A run removes its records as it completes or aborts; a run that was
 * killed, or could not abort because the store was down, leaves them, and the next run against
 * the same store aborts those uploads (`abortLeftovers`).
 */
export class UploadJournal {
  constructor(readonly dir: string) {}

  async add(entry: JournalEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const record: StoredEntry = { ...entry, pid: process.pid, host: hostname(), created: new Date().toISOString() };
    const file = this.fileOf(entry.uploadId);
    await writeFile(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  async remove(uploadId: string): Promise<void> {
    await rm(this.fileOf(uploadId), { force: true });
  }

  /** Entries of processes on this host that are gone, for the given store (endpoints compared normalised). */
  async leftovers(store: string): Promise<JournalEntry[]> {
    const want = normaliseEndpoint(store);
    return (await this.deadEntries()).filter((e) => normaliseEndpoint(e.store) === want);
  }

  /**
   * Entries of processes on this host that are gone, whatever endpoint they used (a proxy, another
   * name of the same store): `gc` matches them by bucket and upload id against the store's own list.
   */
  async deadEntries(): Promise<JournalEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: JournalEntry[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      const e = await readFile(join(this.dir, name), 'utf8')
        .then((t) => JSON.parse(t) as StoredEntry)
        .catch(() => undefined);
      if (!e || e.host !== hostname() || isAlive(e.pid)) continue;
      out.push({ bucket: e.bucket, key: e.key, uploadId: e.uploadId, store: e.store });
    }
    return out;
  }

  private fileOf(uploadId: string): string {
    return join(this.dir, `${createHash('sha256').update(uploadId).digest('hex').slice(0, 32)}.json`);
  }
}

/** `$DISKLESS_STATE_DIR`, else `$XDG_STATE_HOME/diskless`, else `~/.local/state/diskless`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['DISKLESS_STATE_DIR']) return env['DISKLESS_STATE_DIR'];
  const base = env['XDG_STATE_HOME'] || join(env['HOME'] || homedir(), '.local', 'state');
  return join(base, 'diskless');
}

export function journalDir(stateDir: string): string {
  return join(stateDir, 'open-uploads');
}
