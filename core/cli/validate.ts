/** `zen-watcher validate FILE...`: the startup validation, offline. One `file: field.path: reason` line per error. */
import { HOST_API_VERSION } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { resolveConflicts } from '../config/ingester-set.ts';
import { readDocuments } from '../config/load-files.ts';
import { createAjv, type IngesterConfig, IngesterValidator } from '../config/validate.ts';
import { handlerTable } from '../host/host.ts';
import { discoverPlugins } from '../loader/index.ts';

export function validateFiles(
  files: string[],
  env: Readonly<HostEnv>,
  out: NodeJS.WritableStream = process.stdout,
): number {
  if (files.length === 0) {
    process.stderr.write('zen-watcher validate: name at least one file\n');
    return 2;
  }
  const ajv = createAjv();
  const handlers = handlerTable(
    discoverPlugins([env.builtinPluginDir, ...env.pluginDirs], { ajv, hostApiVersion: HOST_API_VERSION }),
  );
  const validator = new IngesterValidator({
    ajv,
    handlers: (h) => handlers.get(h),
    knownHandlers: () => [...handlers.keys()],
  });
  let errors = 0;
  let documents = 0;
  const valid: { origin: string; ing: IngesterConfig }[] = [];
  for (const file of files) {
    for (const d of readDocuments(file)) {
      documents++;
      if (d.parseError) {
        out.write(`${d.origin}: (document): ${d.parseError}\n`);
        errors++;
        continue;
      }
      const res = validator.validate(d.doc);
      if (res.ok) {
        valid.push({ origin: d.origin, ing: res.ingester });
        continue;
      }
      for (const e of res.errors) {
        out.write(`${d.origin}: ${e.path}: ${e.message}\n`);
        errors++;
      }
    }
  }
  const { rejected } = resolveConflicts(valid.map((v) => v.ing));
  for (const r of rejected) {
    const origin = valid.find((v) => v.ing.key === r.key)?.origin ?? r.key;
    for (const e of r.errors) {
      out.write(`${origin}: ${e.path}: ${e.message}\n`);
      errors++;
    }
  }
  if (errors === 0) out.write(`${documents} Ingester document(s) valid\n`);
  return errors === 0 ? 0 : 1;
}
