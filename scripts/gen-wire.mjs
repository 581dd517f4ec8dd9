#!/usr/bin/env node
// Generates src/wire/wire.generated.ts from native/wire/wire.def (the one spec of the shim <-> uploader
// protocol). `--check` fails if the generated file is stale (the unit tests run it).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const defPath = `${root}native/wire/wire.def`;
const outPath = `${root}src/wire/wire.generated.ts`;

export function generate(def) {
  const text = def.replace(/\/\*[\s\S]*?\*\//g, '');
  const consts = [...text.matchAll(/^CONST\((\w+),\s*(\d+)\)/gm)].map((m) => [m[1], Number(m[2])]);
  const envs = [...text.matchAll(/^ENV\((\w+),\s*"(\w+)"\)/gm)].map((m) => [m[1], m[2]]);
  const msgs = [...text.matchAll(/^MSG\((\w+),\s*(\d+),\s*"([^"]*)",\s*"([^"]*)"\)/gm)].map((m) => ({
    name: m[1],
    type: Number(m[2]),
    direction: m[3],
    fields: m[4].split(/\s+/).filter(Boolean).map((f) => {
      const [name, kind] = f.split(':');
      if (!['str', 'u32', 'i32', 'u64', 'i64'].includes(kind)) throw new Error(`wire.def: unknown field type in ${f}`);
      return [name, kind];
    }),
  }));
  const lines = [
    '// Generated from native/wire/wire.def by scripts/gen-wire.mjs: do not edit (run `npm run gen:wire`).',
    '',
    ...consts.map(([n, v]) => `export const ${n} = ${v};`),
    ...envs.map(([n, v]) => `export const ${n} = '${v}';`),
    '',
    'export const MESSAGES = {',
    ...msgs.map(
      (m) =>
        `  ${m.name}: { type: ${m.type}, direction: '${m.direction}', fields: [${m.fields.map(([n, k]) => `['${n}', '${k}']`).join(', ')}] },`,
    ),
    '} as const;',
    '',
  ];
  return lines.join('\n');
}

const generated = generate(readFileSync(defPath, 'utf8'));
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outPath, 'utf8');
  } catch {}
  if (current !== generated) {
    console.error('src/wire/wire.generated.ts is stale: run `npm run gen:wire`');
    process.exit(1);
  }
} else {
  writeFileSync(outPath, generated);
}
