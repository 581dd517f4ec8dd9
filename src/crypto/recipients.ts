import { readFileSync } from 'node:fs';
import { UsageError, describeError } from '../errors.js';
import { ageLibrary } from './age-header.js';

/**
 * The keys of client-side encryption, as the `age` CLI takes them: recipients (`age1…` X25519
 * public keys) from `--encrypt-to` and `--recipients-file` (one per line, `#` comments and blank
 * lines ignored), identities (`AGE-SECRET-KEY-1…`) from `--identity` files as `age-keygen` writes
 * them. Only X25519 keys: they are what Debian's `age` (1.1) decrypts, so a backup restores
 * without diskless. A secret key is never put in a message.
 */

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** Checks each recipient; throws a UsageError naming the bad one and what a good one looks like. */
export function checkRecipients(recipients: readonly string[], origin: (r: string) => string): string[] {
  const out: string[] = [];
  for (const r of recipients) {
    if (r.startsWith('AGE-SECRET-KEY-')) {
      throw new UsageError(`${origin('(a secret key)')} is a secret key (an identity), not a recipient: give its public key, which \`age-keygen -y FILE\` prints (age1…); keep the secret key off this host`);
    }
    if (!RECIPIENT.test(r) || !isValidRecipient(r)) {
      const kind = r.startsWith('age1pq') || r.startsWith('age1tag') ? ' (post-quantum and tag recipients are not supported: Debian\'s age 1.1 cannot decrypt them)' : r.startsWith('ssh-') ? ' (SSH keys are not supported: use an age X25519 key from age-keygen)' : '';
      throw new UsageError(`${origin(JSON.stringify(r))} is not an age X25519 recipient${kind}; a recipient is a public key of 62 characters beginning with age1…, as age-keygen prints`);
    }
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

const BECH32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';

/**
 * The bech32 checksum (BIP 173) of an `age1…` X25519 recipient, and zero padding after its 32
 * bytes: a typo is caught here, before anything runs (the library then encodes the key again).
 */
function isValidRecipient(r: string): boolean {
  const polymod = (values: number[]) => {
    const gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let chk = 1;
    for (const v of values) {
      const top = chk >>> 25;
      chk = ((chk & 0x1ffffff) << 5) ^ v;
      for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= gen[i]!;
    }
    return chk >>> 0;
  };
  const hrp = 'age';
  const data = [...r.slice(4)].map((c) => BECH32.indexOf(c));
  if (data.some((d) => d < 0)) return false;
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  // 52 groups of 5 bits hold 32 bytes and 4 bits of padding, which must be zero.
  return polymod([...expanded, ...data]) === 1 && (data[51]! & 0x0f) === 0;
}

/** Lines of a key file without comments and blank lines. */
function keyLines(text: string): Array<{ line: number; text: string }> {
  return text
    .split(/\r?\n/)
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
}

function readKeyFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`${option} ${path}: cannot read it (${describeError(err)})`);
  }
}

/** Every recipient of --encrypt-to and --recipients-file, checked, without duplicates. */
export function loadRecipients(encryptTo: readonly string[], recipientFiles: readonly string[]): string[] {
  const all = checkRecipients(encryptTo.map((r) => r.trim()), (r) => `--encrypt-to ${r}`);
  for (const file of recipientFiles) {
    const lines = keyLines(readKeyFile(file, '--recipients-file'));
    if (lines.length === 0) throw new UsageError(`--recipients-file ${file} holds no recipient (one age1… key per line)`);
    for (const l of lines) {
      for (const r of checkRecipients([l.text], (shown) => `--recipients-file ${file} line ${l.line}: ${shown}`)) if (!all.includes(r)) all.push(r);
    }
  }
  return all;
}

export interface Identity {
  /** The secret key (AGE-SECRET-KEY-1…). */
  secret: string;
  /** Its public key (age1…). */
  recipient: string;
  /** Where it came from (file and line), for messages. */
  origin: string;
}

/** The identities of `--identity` files (age-keygen's format); throws a UsageError for a file without one. */
export async function loadIdentities(files: readonly string[]): Promise<Identity[]> {
  const out: Identity[] = [];
  for (const file of files) {
    const lines = keyLines(readKeyFile(file, '--identity'));
    const keys = lines.filter((l) => l.text.startsWith('AGE-SECRET-KEY-'));
    if (keys.length === 0) {
      throw new UsageError(`--identity ${file} holds no age identity (a line AGE-SECRET-KEY-1…, as age-keygen writes); a recipients file (age1…) cannot decrypt`);
    }
    for (const k of keys) {
      const origin = `--identity ${file} line ${k.line}`;
      if (k.text.startsWith('AGE-SECRET-KEY-PQ-')) throw new UsageError(`${origin}: post-quantum identities are not supported (use an X25519 key from age-keygen)`);
      let recipient: string;
      try {
        recipient = await (await ageLibrary()).identityToRecipient(k.text);
      } catch {
        throw new UsageError(`${origin}: not a valid age identity (its checksum or length is wrong)`);
      }
      out.push({ secret: k.text, recipient, origin });
    }
  }
  return out;
}

/** The identities whose public key is among `recipients` (all of them when the recipients are not recorded). */
export function identitiesFor(identities: readonly Identity[], recipients: readonly string[] | undefined): Identity[] {
  if (!recipients || recipients.length === 0) return [...identities];
  return identities.filter((i) => recipients.includes(i.recipient));
}
