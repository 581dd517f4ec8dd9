// Validates manifests against docs/manifest.schema.json with ajv (draft 2020-12, formats checked).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';

const SCHEMA = JSON.parse(readFileSync(fileURLToPath(new URL('../../docs/manifest.schema.json', import.meta.url)), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(SCHEMA);

/** Fails the test, listing every schema error, unless `manifest` is a valid diskless-backup/2 manifest. */
export function expectValidManifest(manifest: unknown, where = 'manifest'): void {
  const ok = validate(manifest);
  expect(ok ? [] : validate.errors!.map((e) => `${where}${e.instancePath}: ${e.message}`)).toEqual([]);
}
