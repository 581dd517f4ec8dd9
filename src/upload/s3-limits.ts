import { GiB, MiB } from '../util/size.js';

/** Limits of the S3 API (AWS; most compatible stores share them, see the README's Providers section). */
export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_MAX_PART_SIZE = 5 * GiB;
export const S3_MAX_PARTS = 10_000;
