/** `zen-watcher validate FILE...`: the startup validation, offline. One `file: field.path: reason` line per error. */
import { HOST_API_VERSION } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { resolveConflicts } from '../config/ingester-set.ts';
import { readDocuments } from '../config/load-files.ts';
import { createAjv, type IngesterConfig, IngesterValidator } from '../config/validate.ts';
import { DestinationValidator, destinationTypeTable, isDestinationDocument } from '../destinations/validate.ts';
import { discoverPlugins, handlerTable } from '../loader/index.ts';

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
  const records = discoverPlugins([env.builtinPluginDir, ...env.pluginDirs], { ajv, hostApiVersion: HOST_API_VERSION });
  const handlers = handlerTable(records);
  const destinations = new DestinationValidator({ ajv, types: destinationTypeTable(records) });
  const destinationKeys = new Map<string, string>();
  const uses: { origin: string; path: string; key: string }[] = [];
  const validator = new IngesterValidator({
    ajv,
    handlers: (h) => handlers.get(h),
    knownHandlers: () => [...handlers.keys()],
  });
  let errors = 0;
  let documents = 0;
  let destinationDocs = 0;
  const valid: { origin: string; ing: IngesterConfig }[] = [];
  for (const file of files) {
    for (const d of readDocuments(file)) {
      documents++;
      if (d.parseError) {
        out.write(`${d.origin}: (document): ${d.parseError}\n`);
        errors++;
        continue;
      }
      if (isDestinationDocument(d.doc)) {
        destinationDocs++;
        const r = destinations.validate(d.doc);
        if (r.ok) {
          const other = destinationKeys.get(r.destination.key);
          if (other) {
            out.write(`${d.origin}: metadata.name: Destination ${r.destination.key} is also defined in ${other}\n`);
            errors++;
          } else destinationKeys.set(r.destination.key, d.origin);
          continue;
        }
        for (const e of r.errors) {
          out.write(`${d.origin}: ${e.path}: ${e.message}\n`);
          errors++;
        }
        continue;
      }
      const res = validator.validate(d.doc);
      if (res.ok) {
        valid.push({ origin: d.origin, ing: res.ingester });
        (res.ingester.spec.destinations ?? []).forEach((u, i) => {
          if (u.type === 'destination')
            uses.push({
              origin: d.origin,
              path: `spec.destinations[${i}].name`,
              key: `${u.namespace ?? res.ingester.namespace}/${u.name}`,
            });
        });
        continue;
      }
      for (const e of res.errors) {
        out.write(`${d.origin}: ${e.path}: ${e.message}\n`);
        errors++;
      }
    }
  }
  const { rejected } = resolveConflicts(
    valid.map((v) => v.ing),
    valid.map((v) => v.origin),
  );
  for (const r of rejected) {
    const origin = r.origin ?? r.key;
    for (const e of r.errors) {
      out.write(`${origin}: ${e.path}: ${e.message}\n`);
      errors++;
    }
  }
  // An Ingester naming a Destination: checked when the files given define any Destination (else it may be elsewhere).
  if (destinationKeys.size > 0) {
    for (const u of uses) {
      if (destinationKeys.has(u.key)) continue;
      out.write(
        `${u.origin}: ${u.path}: Destination ${u.key} is not defined in the files given (defined: ${[...destinationKeys.keys()].join(', ')})\n`,
      );
      errors++;
    }
  }
  if (errors === 0) {
    const ingesters = documents - destinationDocs;
    out.write(
      destinationDocs > 0
        ? `${ingesters} Ingester document(s) and ${destinationDocs} Destination document(s) valid\n`
        : `${documents} Ingester document(s) valid\n`,
    );
  }
  return errors === 0 ? 0 : 1;
}
