/**
 * What fills the read index, per mode.
 *
 * Standalone: the store is the only writer's own file, so the index is the store's rows loaded once at start
 * plus every Observation the sink then creates (this process is the only writer); TTL expiry is mirrored by
 * dropping entries past their expiry. The detail view reads the row from the store.
 *
 * Kubernetes: a list + watch of every Observation in the watched namespaces (or cluster-wide), on every replica,
 * for the life of the process. The informer's transform turns each object into the index's Entry at once, so
 * neither the informer's store nor the index holds a full object (the same idea as ADR 0011's resolver cache,
 * generalized to all Observations and all replicas). The detail view GETs the one object.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Observation } from '../api/index.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { type ObservationDoc, type ReadIndex, toEntry } from './index.ts';

export interface Feed {
  getDoc(namespace: string, name: string): Promise<unknown | undefined>;
  /** The sink the pipeline writes through (standalone: it tells the index what was created). */
  wrap(sink: ObservationSink): ObservationSink;
  close(): void;
  /** A lazy index (standalone, kubernetes): load or start it now (the read API calls this before answering). */
  activate?(): void;
}

/** Standalone: the store's rows, then what this process writes. */
export function storeFeed(
  index: ReadIndex,
  store: ObservationSink,
  opts: { expiryIntervalMs: number /** Build the index at the first read (activate()), not now. */; lazy?: boolean },
): Feed {
  const sqlite = store instanceof SqliteStore ? store : undefined;
  // A second, read-only connection for the detail view (WAL: readers never block the writer), opened at its first use.
  const fileBacked = sqlite !== undefined && sqlite.path !== ':memory:';
  let reader: DatabaseSync | undefined;
  let getRowStmt: StatementSync | undefined;
  const getRow = () => {
    if (!fileBacked || !sqlite) return undefined;
    reader ??= new DatabaseSync(sqlite.path, { readOnly: true });
    getRowStmt ??= reader.prepare('SELECT doc, created_at FROM observations WHERE namespace = ? AND name = ?');
    return getRowStmt;
  };
  const memoryDocs = new Map<string, Observation>(); // only without a file-backed store (tests with another sink)
  // Built on first use (the first read API request), not at start: until someone reads, ingest pays nothing for
  // the index and the process holds none of it (issue #18: the index update was a few % of every alert's CPU, and
  // a large store's index tens of MB of idle RSS). Loading is synchronous (one SELECT), so no write can fall
  // between the load and the first upsert; a write committed just before is upserted twice (idempotent).
  let active = false;
  const activate = () => {
    if (active) return;
    active = true;
    if (sqlite) {
      const rows = sqlite.list({ limit: Number.MAX_SAFE_INTEGER });
      for (const r of rows) {
        const e = toEntry(r as ObservationDoc, Date.parse(r.createdAt));
        if (e) index.upsert(e);
      }
    }
    index.expire();
    index.markSynced();
  };
  if (!opts.lazy) activate();
  const timer = setInterval(() => active && index.expire(), opts.expiryIntervalMs);
  timer.unref();
  return {
    activate,
    async getDoc(namespace, name) {
      const stmt = getRow();
      if (stmt) {
        const row = stmt.get(namespace, name) as { doc: string; created_at: number } | undefined;
        return row ? { ...JSON.parse(row.doc), createdAt: new Date(row.created_at).toISOString() } : undefined;
      }
      return (
        memoryDocs.get(`${namespace}/${name}`) ??
        (sqlite?.list({ limit: Number.MAX_SAFE_INTEGER }) ?? []).find(
          (o) => o.namespace === namespace && o.name === name,
        )
      );
    },
    wrap(sink) {
      // Every member of the sink passes through (readiness, reasons, anything added later); only write() is
      // watched, to add what was created to the index.
      const write: ObservationSink['write'] = async (obs, previous, options) => {
        const outcome = await sink.write(obs, previous, options);
        if (outcome === 'created' && (active || !sqlite)) {
          const e = toEntry(obs as ObservationDoc, Date.now());
          if (e) {
            if (!sqlite) memoryDocs.set(e.key, obs);
            index.upsert(e);
          }
        }
        return outcome;
      };
      // Repeats, updates in place and resolutions from the source change a stored document after its creation
      // (ADR 0017): the index re-reads that row, so the list, summary, detail and stream show its state now.
      const refresh = (namespace: string, name: string) => {
        if (!active) return;
        const stmt = getRow();
        const row = stmt?.get(namespace, name) as { doc: string; created_at: number } | undefined;
        const e = row ? toEntry(JSON.parse(row.doc) as ObservationDoc, row.created_at) : undefined;
        if (e) index.upsert(e);
        else if (stmt) index.delete(`${namespace}/${name}`);
      };
      const addOccurrences: ObservationSink['addOccurrences'] = sink.addOccurrences
        ? async (d, signal) => {
            const outcome = await sink.addOccurrences!(d, signal);
            refresh(d.namespace, d.name);
            return outcome;
          }
        : undefined;
      return new Proxy(sink, {
        get(target, prop) {
          if (prop === 'write') return write;
          if (prop === 'addOccurrences') return addOccurrences;
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    },
    close() {
      clearInterval(timer);
      reader?.close();
    },
  };
}
