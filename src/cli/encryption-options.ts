import type { Command } from 'commander';
import { loadIdentities, loadRecipients, type Identity } from '../crypto/recipients.js';

/** The flags of client-side encryption (age), declared once for every command that takes them. */
export interface EncryptFlags {
  encryptTo?: string[];
  recipientsFile?: string[];
}

export interface IdentityFlags {
  identity?: string[];
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** put, run, serve, snapshot: encrypt every stored stream for these recipients. */
export function addEncryptOptions(cmd: Command): Command {
  return cmd
    .option('--encrypt-to <recipient>', 'encrypt with age for this public key (age1…, from age-keygen); repeatable: any one of the identities decrypts', collect)
    .option('--recipients-file <file>', 'encrypt for every recipient in FILE (one age1… per line, # comments); repeatable', collect);
}

/** get, restore, verify --deep: the age identity files that decrypt. */
export function addIdentityOptions(cmd: Command, what = 'decrypt encrypted backups'): Command {
  return cmd.option('--identity <file>', `age identity file (AGE-SECRET-KEY-1…, from age-keygen) to ${what}; repeatable`, collect);
}

/** The recipients the flags name (checked), or undefined for no encryption. */
export function encryptionRecipients(flags: EncryptFlags): string[] | undefined {
  const all = loadRecipients(flags.encryptTo ?? [], flags.recipientsFile ?? []);
  return all.length > 0 ? all : undefined;
}

/** The identities of the --identity files, or undefined without any. */
export async function identitiesFrom(flags: IdentityFlags): Promise<Identity[] | undefined> {
  return flags.identity?.length ? loadIdentities(flags.identity) : undefined;
}
