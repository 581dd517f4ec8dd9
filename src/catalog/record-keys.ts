import { MANIFEST_NAME, PUT_MANIFEST_SUFFIX } from '../manifest/manifest.js';

/** What a key is to the catalogue, by its name alone. */
export type KeyRole =
  | { role: 'run-manifest'; root: string }
  | { role: 'snapshot-manifest' }
  | { role: 'put-manifest'; objectKey: string }
  | { role: 'verify-record'; manifestKey: string; at: string; deep: boolean; result: 'ok' | 'failed' }
  | { role: 'other' };

const SNAPSHOT_MANIFEST = /(^|\/)diskless-manifest-\d{8}T\d{6}Z\.json$/;
const VERIFY_RECORD = /^(.*)\.verify-(\d{8}T\d{6}(?:\d{3})?Z)-(shallow|deep)-(ok|failed)\.json$/;

export function keyRole(key: string): KeyRole {
  const v = VERIFY_RECORD.exec(key);
  if (v) return { role: 'verify-record', manifestKey: `${v[1]}.json`, at: timestampToIso(v[2]!), deep: v[3] === 'deep', result: v[4] as 'ok' | 'failed' };
  if (key === MANIFEST_NAME || key.endsWith(`/${MANIFEST_NAME}`)) return { role: 'run-manifest', root: key.slice(0, -MANIFEST_NAME.length) };
  if (SNAPSHOT_MANIFEST.test(key)) return { role: 'snapshot-manifest' };
  if (key.endsWith(PUT_MANIFEST_SUFFIX) && key.length > PUT_MANIFEST_SUFFIX.length) {
    return { role: 'put-manifest', objectKey: key.slice(0, -PUT_MANIFEST_SUFFIX.length) };
  }
  return { role: 'other' };
}

/**
 * Where a verification result is recorded: beside the manifest, never in it:
 * `<manifest key without .json>.verify-<UTC time>-<shallow|deep>-<ok|failed>.json`, so that `ls`
 * shows the last result from the listing alone.
 */
export function verifyRecordKey(manifestKey: string, at: Date, deep: boolean, ok: boolean): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
  return `${manifestKey.replace(/\.json$/, '')}.verify-${stamp}-${deep ? 'deep' : 'shallow'}-${ok ? 'ok' : 'failed'}.json`;
}

function timestampToIso(stamp: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})?Z$/.exec(stamp)!;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7] ?? '000'}Z`;
}
