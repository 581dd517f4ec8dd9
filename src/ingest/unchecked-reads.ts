import { describeError } from '../errors.js';
import type { RestoreItem } from '../restore/restore-item.js';
import { fileBytes, type ReadDeps } from './read-session.js';

/** How long a failed command's run may spend checking the files it read but did not read whole. */
export const UNCHECKED_READS_TIMEOUT_MS = 120_000;

/**
 * The files of a backup the command opened whose whole-file check (CRC32C against the manifest, or
 * decryption) never ran: it stopped reading early, or read only from an offset. A program that stops
 * early is no failure; but when the command then fails, its failure may come from damage it saw
 * first (zlib in pg_restore, say, stops at a bad block before the last chunk, where the CRC32C is
 * checked), so `check` reads those files whole again (ranged GETs pinned to the ETags, one file at
 * a time: a read's window of memory, nothing on disk) and reports each that does not check out.
 */
export class UncheckedReads {
  private readonly items = new Map<string, RestoreItem>();
  private readonly settled = new Set<string>();

  /** The command opened `item` for reading. */
  opened(item: RestoreItem): void {
    if (!this.settled.has(item.path)) this.items.set(item.path, item);
  }

  /** `path` was read whole and checked, or its failure is already named: nothing left to check. */
  settle(path: string): void {
    this.settled.add(path);
    this.items.delete(path);
  }

  get size(): number {
    return this.items.size;
  }

  /**
   * The command failed: reads each file still unchecked whole (no output), within `timeoutMs`; a
   * file that does not check out goes to `deps.onFailure`. Returns the paths left unchecked when the
   * time ran out (named in a warning that points at `diskless verify --deep url`).
   */
  async check(deps: ReadDeps, url: string, timeoutMs = UNCHECKED_READS_TIMEOUT_MS): Promise<string[]> {
    if (this.items.size === 0) return [];
    const { log } = deps.read;
    log.info(`the command failed: checking the ${this.items.size} file(s) of ${url} it read but did not read whole`);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([deps.signal, timeout]);
    const left = [...this.items.values()];
    while (left.length > 0) {
      const item = left[0]!;
      try {
        for await (const chunk of fileBytes(item, 0, { ...deps, signal })) void chunk;
        log.debug(`${item.path}: read whole after the command failed: it checks out`);
      } catch (err) {
        if (signal.aborted) break;
        log.warn(`${item.path}: read whole after the command failed, it does not check out: ${describeError(err)}`);
        deps.onFailure(item.path, item.key, err);
      }
      this.settle(item.path);
      left.shift();
    }
    const unchecked = left.map((i) => i.path);
    if (unchecked.length > 0) {
      log.warn(`not checked in time (diskless verify --deep ${url} checks every object): ${unchecked.slice(0, 5).join(', ')}${unchecked.length > 5 ? ', …' : ''}`);
    }
    return unchecked;
  }
}
