/**
 * Writes `schema.gen.ts` next to every plugin's `schema.json` (plugins/*, examples/plugins/*): the same schema as a
 * TypeScript literal (`as const`), so a plugin derives its `Config` type from it (json-schema-to-ts `FromSchema`)
 * and `definePlugin<Config>` cannot drift from what the host validates. schema.json stays the one source (the
 * loader reads it before any plugin code runs); the generated files are not committed (.gitignore): `npm ci`
 * (prepare) and `npm run typecheck` write them, so types are always those of the current schema.json. They are
 * type-only: `import type` is erased, nothing reads them at run time. `--check` exits 1 when one is stale.
 *
 *   node scripts/gen-schema-ts.ts [--check]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');

export function schemaModule(schemaJson: string): string {
  const schema: unknown = JSON.parse(schemaJson);
  return [
    '// Generated from schema.json by `node scripts/gen-schema-ts.ts` (npm run lint checks it); do not edit.',
    '// The literal lets FromSchema<typeof configSchema> type spec.config exactly as the host validates it.',
    `export const configSchema = ${JSON.stringify(schema, null, 2)} as const;`,
    '',
  ].join('\n');
}

let stale = 0;
for (const parent of ['plugins', 'examples/plugins']) {
  if (!existsSync(join(ROOT, parent))) continue;
  for (const name of readdirSync(join(ROOT, parent))) {
    const dir = join(ROOT, parent, name);
    const json = join(dir, 'schema.json');
    if (!existsSync(json)) continue;
    const out = join(dir, 'schema.gen.ts');
    const want = schemaModule(readFileSync(json, 'utf8'));
    const have = existsSync(out) ? readFileSync(out, 'utf8') : undefined;
    if (have === want) continue;
    if (check) {
      stale++;
      console.error(`${parent}/${name}/schema.gen.ts is not current: run node scripts/gen-schema-ts.ts`);
    } else {
      writeFileSync(out, want);
      console.log(`wrote ${parent}/${name}/schema.gen.ts`);
    }
  }
}
if (stale) process.exit(1);
