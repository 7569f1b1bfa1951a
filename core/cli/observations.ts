/**
 * `zen-watcher observations list`: reads the standalone store (read-only; safe while the operator runs), or in
 * Kubernetes mode (ZEN_MODE=kubernetes, or in a pod) the cluster's Observations.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostEnv } from '../config/env.ts';
import { resolveMode } from '../host/mode.ts';
import { SqliteStore, type StoredObservation, sqliteReason } from '../sinks/sqlite-store.ts';
import { printableJson } from './printable.ts';
import { table } from './table.ts';

export async function observationsList(
  env: Readonly<HostEnv>,
  opts: { output?: string; source?: string | undefined; severity?: string | undefined; limit?: string },
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  // Digits only: Number() would also take '0x10', '1e2' and ' 5' (a typo read as another number).
  const rawLimit = opts.limit ?? '1000';
  const limit = /^[0-9]+$/.test(rawLimit) ? Number(rawLimit) : Number.NaN;
  if (!Number.isSafeInteger(limit) || limit < 1)
    return usage(err, `observations list: --limit must be a positive whole number, got '${rawLimit}'`);
  if (opts.output !== 'json' && opts.output !== 'table' && opts.output !== undefined)
    return usage(err, `observations list: -o must be table or json, got '${opts.output}'`);
  if (resolveMode(env).mode === 'kubernetes') {
    let list: StoredObservation[];
    try {
      // Loaded only here: client-node is hundreds of modules that standalone never needs (issue #18, idle RSS).
      const { listKubeObservations } = await import('./observations-kube.ts');
      list = await listKubeObservations(env, {
        ...(opts.source ? { source: opts.source } : {}),
        ...(opts.severity ? { severity: opts.severity } : {}),
        limit,
      });
    } catch (e) {
      err.write(`zen-watcher observations list: cannot list the cluster's Observations: ${(e as Error).message}\n`);
      return 1;
    }
    print(list, opts.output, out);
    return 0;
  }
  const file = join(env.dataDir, 'observations.db');
  if (!existsSync(file)) {
    if (opts.output === 'json') out.write('[]\n');
    else out.write(`No Observations yet (no store at ${env.dataDir}).\n`);
    return 0;
  }
  let list: StoredObservation[];
  let store: SqliteStore | undefined;
  try {
    store = new SqliteStore(env.dataDir, { readOnly: true });
    list = store.list({
      ...(opts.source ? { source: opts.source } : {}),
      ...(opts.severity ? { severity: opts.severity } : {}),
      limit,
    });
  } catch (e) {
    // A damaged or unreadable store is a clear message and exit 1, not a stack trace.
    const cause = (e as Error).message ?? String(e);
    const hint =
      sqliteReason((e as Error).cause ?? e) === 'store_corrupt' || /corrupt|malformed/i.test(cause)
        ? ' The store is damaged: move observations.db (and its -wal and -shm files) aside or restore a backup; ' +
          "rows that can still be read: sqlite3 <file> '.recover'."
        : '';
    err.write(`zen-watcher observations list: cannot read the store ${file}: ${cause}.${hint}\n`);
    return 1;
  } finally {
    void store?.close();
  }
  print(list, opts.output, out);
  return 0;
}

function print(list: StoredObservation[], output: string | undefined, out: NodeJS.WritableStream): void {
  if (output === 'json') {
    out.write(`${printableJson(list)}\n`);
    return;
  }
  out.write(
    table(
      [
        'NAMESPACE',
        'NAME',
        'SOURCE',
        'SEVERITY',
        'CATEGORY',
        'TYPE',
        'TITLE',
        'PHASE',
        'COUNT',
        'LAST SEEN',
        'CREATED',
      ],
      list.map((o) => [
        o.namespace,
        o.name,
        o.spec.source,
        o.spec.severity,
        o.spec.category,
        o.spec.eventType,
        o.spec.title.slice(0, 60),
        o.status?.phase ?? 'Active',
        String(o.status?.count ?? 1),
        o.status?.lastSeen ?? o.spec.detectedAt,
        o.createdAt,
      ]),
    ),
  );
}

/** A usage error, in the CLI's one format (docs/CLI.md: exit 2). */
function usage(err: NodeJS.WritableStream, message: string): number {
  err.write(`zen-watcher: ${message}\nRun 'zen-watcher --help' for usage.\n`);
  return 2;
}
