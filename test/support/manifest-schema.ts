// Validates manifests against docs/manifest.schema.json with ajv (draft 2020-12, formats checked).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

// ajv and ajv-formats are CommonJS packages: their classes are the `default` of module.exports.
const require = createRequire(import.meta.url);
const Ajv2020 = (require('ajv/dist/2020') as typeof import('ajv/dist/2020.js')).default;
const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/manifest.schema.json', import.meta.url)), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(SCHEMA);

/** Fails the test, listing every schema error, unless `manifest` is a valid diskless-backup/2 manifest. */
export function expectValidManifest(manifest: unknown, where = 'manifest'): void {
  const ok = validate(manifest);
  expect(ok ? [] : validate.errors!.map((e) => `${where}${e.instancePath}: ${e.message}`)).toEqual([]);
}
