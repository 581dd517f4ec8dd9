import { UploadError } from '../errors.js';
import type { ObjectSummary } from './multipart-object.js';

/**
 * A stream larger than one object (past its part limit) is stored as a chain:
 *   KEY                          object 0 (metadata `diskless-chain-id`), completed LAST
 *   KEY.diskless-cont-0001 …     continuation objects, in order
 *   KEY.diskless-chain.json      this index, written before object 0 is completed
 * Object 0 appears only when everything else is stored, so a visible KEY always means a whole
 * stream. A reader finds the index through the chain id on KEY and ignores an index whose id
 * differs (left by an older upload to the same key).
 */
export const CHAIN_FORMAT = 'diskless-chain/1';
export const CHAIN_ID_METADATA = 'diskless-chain-id';

export interface ChainIndex {
  format: typeof CHAIN_FORMAT;
  chainId: string;
  key: string;
  size: number;
  crc32c: string;
  sha256?: string;
  objects: ObjectSummary[];
}

export function continuationKey(key: string, objectIndex: number): string {
  return objectIndex === 0 ? key : `${key}.diskless-cont-${String(objectIndex).padStart(4, '0')}`;
}

export function chainIndexKey(key: string): string {
  return `${key}.diskless-chain.json`;
}

export function parseChainIndex(text: string, where: string): ChainIndex {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UploadError(`${where} is not valid JSON`, { cause: err });
  }
  const v = value as Partial<ChainIndex>;
  if (v.format !== CHAIN_FORMAT || typeof v.chainId !== 'string' || !Array.isArray(v.objects) || typeof v.size !== 'number') {
    throw new UploadError(`${where} is not a diskless chain index (format ${CHAIN_FORMAT})`);
  }
  const sum = v.objects.reduce((n, o) => n + (typeof o.size === 'number' ? o.size : NaN), 0);
  if (sum !== v.size) throw new UploadError(`${where}: the objects' sizes add up to ${sum}, not ${v.size}`);
  return v as ChainIndex;
}
