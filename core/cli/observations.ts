/** `zen-watcher observations list`: reads the standalone store (read-only; safe while the operator runs). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostEnv } from '../config/env.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import { table } from './table.ts';

export function observationsList(
  env: Readonly<HostEnv>,
  opts: { output?: string; source?: string | undefined; severity?: string | undefined; limit?: string },
  out: NodeJS.WritableStream = process.stdout,
): number {
  const limit = Number(opts.limit ?? 1000);
  if (!Number.isInteger(limit) || limit < 1) {
    process.stderr.write(`zen-watcher observations list: --limit must be a positive integer\n`);
    return 2;
  }
  if (opts.output !== 'json' && opts.output !== 'table' && opts.output !== undefined) {
    process.stderr.write(`zen-watcher observations list: -o must be table or json\n`);
    return 2;
  }
  if (!existsSync(join(env.dataDir, 'observations.db'))) {
    if (opts.output === 'json') out.write('[]\n');
    else out.write(`No Observations yet (no store at ${env.dataDir}).\n`);
    return 0;
  }
  const store = new SqliteStore(env.dataDir, { readOnly: true });
  try {
    const list = store.list({
      ...(opts.source ? { source: opts.source } : {}),
      ...(opts.severity ? { severity: opts.severity } : {}),
      limit,
    });
    if (opts.output === 'json') out.write(`${JSON.stringify(list, null, 2)}\n`);
    else
      out.write(
        table(
          ['NAMESPACE', 'NAME', 'SOURCE', 'SEVERITY', 'CATEGORY', 'TYPE', 'TITLE', 'CREATED'],
          list.map((o) => [
            o.namespace,
            o.name,
            o.spec.source,
            o.spec.severity,
            o.spec.category,
            o.spec.eventType,
            o.spec.title.slice(0, 60),
            o.createdAt,
          ]),
        ),
      );
  } finally {
    void store.close();
  }
  return 0;
}
