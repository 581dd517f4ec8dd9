import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abortLeftovers } from '../../../src/upload/leftovers.js';
import { UploadJournal, defaultStateDir } from '../../../src/upload/upload-journal.js';
import { silentLogger } from '../../../src/util/log.js';
import { MemoryObjectStore } from '../../fakes/memory-object-store.js';

function journalIn(): UploadJournal {
  return new UploadJournal(join(mkdtempSync(join(tmpdir(), 'journal-')), 'open-uploads'));
}

/** Rewrites every record as if a process that no longer exists had written it. */
function orphanAll(journal: UploadJournal): void {
  for (const name of readdirSync(journal.dir)) {
    const file = join(journal.dir, name);
    const record = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...record, pid: 2 ** 22 + 12345 }));
  }
}

describe('UploadJournal', () => {
  it('does not offer uploads of a live process as leftovers', async () => {
    const journal = journalIn();
    await journal.add({ bucket: 'b', key: 'k', uploadId: 'u1', store: 's' });
    expect(await journal.leftovers('s')).toEqual([]);
  });

  it('offers uploads of dead processes for the same store only', async () => {
    const journal = journalIn();
    await journal.add({ bucket: 'b', key: 'k', uploadId: 'u1', store: 'http://one' });
    await journal.add({ bucket: 'b', key: 'k2', uploadId: 'u2', store: 'http://two' });
    orphanAll(journal);
    expect(await journal.leftovers('http://one')).toEqual([{ bucket: 'b', key: 'k', uploadId: 'u1', store: 'http://one' }]);
  });

  it('forgets an upload once it is removed', async () => {
    const journal = journalIn();
    await journal.add({ bucket: 'b', key: 'k', uploadId: 'u1', store: 's' });
    await journal.remove('u1');
    orphanAll(journal);
    expect(await journal.leftovers('s')).toEqual([]);
  });

  it('lets the next run abort what a dead run left open, and forget it', async () => {
    const store = new MemoryObjectStore();
    const { uploadId } = await store.createMultipartUpload({ bucket: 'b', key: 'k' }, {});
    const journal = journalIn();
    await journal.add({ bucket: 'b', key: 'k', uploadId, store: store.description });
    orphanAll(journal);
    expect(await abortLeftovers(journal, store, silentLogger)).toBe(1);
    expect(store.uploads.size).toBe(0);
    expect(await journal.leftovers(store.description)).toEqual([]);
  });

  it('keeps state under XDG_STATE_HOME, or DISKLESS_STATE_DIR when set', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state' })).toBe('/x/state/diskless');
    expect(defaultStateDir({ HOME: '/home/u' })).toBe('/home/u/.local/state/diskless');
    expect(defaultStateDir({ DISKLESS_STATE_DIR: '/d', XDG_STATE_HOME: '/x' })).toBe('/d');
  });
});
