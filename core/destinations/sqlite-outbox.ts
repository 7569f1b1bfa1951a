/**
 * Standalone delivery state, in the store itself: the Observation store is the outbox (DESIGN §1).
 *
 * A trigger on the store's `observations` table appends every new Observation to `zw_outbox` (sequence number,
 * routing columns) in the same transaction as the write, so an Observation is never written without being queued,
 * whatever happens to the process afterwards. Each destination has one row in `zw_delivery`: `cursor` (every
 * outbox entry up to it is settled for that destination) and `sending` (the last sequence number of a send under
 * way). Delivery is in write order per destination; a send that was under way when the process died is sent again
 * (counted as a resend), everything after `cursor` that matches is delivered, nothing before it is sent twice.
 *
 * A second trigger appends an entry when an Observation's phase changes (a webhook source resolved it, or a later
 * report re-opened it): a `resolved` event (version `R/<resolvedAt>`), or a `firing` one again (`F/<resolvedAt>` of
 * the resolution it ends), as the Kubernetes state does (kube-state.ts), so resolution and re-opening are delivered
 * in both modes, with their own idempotency keys.
 *
 * Its own connection to the store's file (WAL: readers do not block the writer).
 */
import { DatabaseSync } from 'node:sqlite';
import type { DeliveredObservation, Observation } from '../api/index.ts';
import { type Route, severitiesFrom } from './routes.ts';
import { type Backlog, type DeliveryState, idempotencyKey, type PendingItem, type StateTarget } from './state.ts';

const OUTBOX = `
  CREATE TABLE IF NOT EXISTS zw_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    ingester TEXT NOT NULL,
    source TEXT NOT NULL,
    severity TEXT NOT NULL,
    category TEXT NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL DEFAULT 'firing',
    version TEXT NOT NULL DEFAULT ''
  );
`;

const INGESTER_OF_NEW = `coalesce(json_extract(NEW.doc, '$.labels."zen.kube-zen.io/ingester-namespace"'), '') || '/' ||
      coalesce(json_extract(NEW.doc, '$.labels."zen.kube-zen.io/ingester"'), '')`;

const SCHEMA = `
  CREATE TRIGGER IF NOT EXISTS zw_outbox_append AFTER INSERT ON observations BEGIN
    INSERT INTO zw_outbox (namespace, name, ingester, source, severity, category, at)
    VALUES (NEW.namespace, NEW.name, ${INGESTER_OF_NEW}, NEW.source, NEW.severity, NEW.category, NEW.created_at);
  END;
  CREATE TRIGGER IF NOT EXISTS zw_outbox_phase AFTER UPDATE OF doc ON observations
  WHEN coalesce(json_extract(NEW.doc, '$.status.phase'), 'Active') IS NOT coalesce(json_extract(OLD.doc, '$.status.phase'), 'Active')
  BEGIN
    INSERT INTO zw_outbox (namespace, name, ingester, source, severity, category, at, event, version)
    VALUES (NEW.namespace, NEW.name, ${INGESTER_OF_NEW}, NEW.source, NEW.severity, NEW.category,
      CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
      CASE WHEN json_extract(NEW.doc, '$.status.phase') = 'Resolved' THEN 'resolved' ELSE 'firing' END,
      CASE WHEN json_extract(NEW.doc, '$.status.phase') = 'Resolved'
        THEN 'R/' || coalesce(json_extract(NEW.doc, '$.status.resolvedAt'), '')
        ELSE 'F/' || coalesce(json_extract(OLD.doc, '$.status.resolvedAt'), '') END);
  END;
  CREATE TABLE IF NOT EXISTS zw_delivery (
    destination TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL,
    sending INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
`;

type Arg = string | number;

/** The routes as one SQL condition on zw_outbox columns (o.*), with its arguments. */
export function routeSql(routes: readonly Route[]): { sql: string; args: Arg[] } {
  if (routes.length === 0) return { sql: '0', args: [] };
  const parts: string[] = [];
  const args: Arg[] = [];
  const inList = (col: string, values: readonly string[]) => {
    args.push(...values);
    return `${col} IN (${values.map(() => '?').join(', ')})`;
  };
  for (const r of routes) {
    const and = ['o.ingester = ?'];
    args.push(r.ingester);
    if (r.minSeverity) and.push(inList('o.severity', severitiesFrom(r.minSeverity)));
    if (r.sources?.length) and.push(inList('o.source', r.sources));
    if (r.namespaces?.length) and.push(inList('o.namespace', r.namespaces));
    if (r.categories?.length) and.push(inList('o.category', r.categories));
    parts.push(`(${and.join(' AND ')})`);
  }
  return { sql: `(${parts.join(' OR ')})`, args };
}

export class SqliteOutbox implements DeliveryState {
  readonly #db: DatabaseSync;
  /** Per destination: the `sending` mark found at startup (sends whose outcome this process does not know). */
  readonly #unknownUpTo = new Map<string, number>();

  /** `path` is the store's database file (SqliteStore.path); the store must have created its table already. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec('PRAGMA busy_timeout = 5000;');
    this.#db.exec(OUTBOX);
    // An outbox from before resolution was delivered in standalone mode: every entry in it is a first firing.
    const columns = this.#db.prepare('PRAGMA table_info(zw_outbox)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'event')) {
      this.#db.exec(`ALTER TABLE zw_outbox ADD COLUMN event TEXT NOT NULL DEFAULT 'firing';
        ALTER TABLE zw_outbox ADD COLUMN version TEXT NOT NULL DEFAULT '';`);
    }
    this.#db.exec(SCHEMA);
  }

  /** The cursor of a destination; a new destination starts at the end of the outbox (no backfill of history). */
  #row(dest: string): { cursor: number; sending: number } {
    const row = this.#db.prepare('SELECT cursor, sending FROM zw_delivery WHERE destination = ?').get(dest) as
      | { cursor: number; sending: number }
      | undefined;
    if (row) {
      if (!this.#unknownUpTo.has(dest)) this.#unknownUpTo.set(dest, row.sending > row.cursor ? row.sending : 0);
      return row;
    }
    const end = (this.#db.prepare('SELECT coalesce(max(seq), 0) AS n FROM zw_outbox').get() as { n: number }).n;
    this.#db
      .prepare('INSERT OR IGNORE INTO zw_delivery (destination, cursor, sending) VALUES (?, ?, 0)')
      .run(dest, end);
    this.#unknownUpTo.set(dest, 0);
    return { cursor: end, sending: 0 };
  }

  async next(target: StateTarget, limit: number): Promise<PendingItem[]> {
    const { cursor } = this.#row(target.key);
    const where = routeSql(target.routes);
    const rows = this.#db
      .prepare(
        `SELECT o.seq, o.namespace, o.name, o.at, o.event, o.version, s.doc, s.created_at, s.expires_at
         FROM zw_outbox o LEFT JOIN observations s ON s.namespace = o.namespace AND s.name = o.name
         WHERE o.seq > ? AND ${where.sql} ORDER BY o.seq LIMIT ?`,
      )
      .all(cursor, ...where.args, limit) as {
      seq: number;
      namespace: string;
      name: string;
      at: number;
      event: string;
      version: string;
      doc: string | null;
      created_at: number | null;
      expires_at: number | null;
    }[];
    const unknownUpTo = this.#unknownUpTo.get(target.key) ?? 0;
    return rows.map((r) => {
      const base = { ref: String(r.seq), resend: r.seq <= unknownUpTo, dueAt: r.at };
      if (r.doc === null) {
        // Expired (TTL) before it could be delivered: the lane gives it up, counted.
        return { ...base, key: '', event: 'firing' as const, observation: undefined as never };
      }
      const obs = JSON.parse(r.doc) as Observation & { status?: { resolvedAt?: string } };
      const event = r.event === 'resolved' ? ('resolved' as const) : ('firing' as const);
      // The phase this event reports (the document may have moved on since: a later entry delivers that).
      const resolvedAt = event === 'resolved' ? r.version.slice(2) || obs.status?.resolvedAt : undefined;
      const observation: DeliveredObservation = {
        ...obs,
        phase: event === 'resolved' ? 'Resolved' : 'Active',
        ...(resolvedAt ? { resolvedAt } : {}),
        createdAt: new Date(r.created_at ?? r.at).toISOString(),
        expiresAt: new Date(r.expires_at ?? r.at).toISOString(),
      };
      return {
        ...base,
        // A first firing keeps the key it always had (version ''); resolutions and re-openings have their own.
        key: idempotencyKey(target.key, r.namespace, r.name, event, r.version),
        event,
        observation,
      };
    });
  }

  async sending(target: StateTarget, items: readonly PendingItem[]): Promise<void> {
    const last = lastSeq(items);
    if (last > 0) this.#db.prepare('UPDATE zw_delivery SET sending = ? WHERE destination = ?').run(last, target.key);
  }

  async settle(target: StateTarget, items: readonly PendingItem[]): Promise<void> {
    const last = lastSeq(items);
    if (last === 0) return;
    this.#db
      .prepare('UPDATE zw_delivery SET cursor = max(cursor, ?), sending = 0 WHERE destination = ?')
      .run(last, target.key);
  }

  async backlog(target: StateTarget): Promise<Backlog> {
    const { cursor } = this.#row(target.key);
    const where = routeSql(target.routes);
    const row = this.#db
      .prepare(`SELECT count(*) AS n, min(o.at) AS oldest FROM zw_outbox o WHERE o.seq > ? AND ${where.sql}`)
      .get(cursor, ...where.args) as { n: number; oldest: number | null };
    return { count: row.n, oldestAt: row.oldest ?? undefined };
  }

  async trim(target: StateTarget, max: number): Promise<number> {
    const { count } = await this.backlog(target);
    if (count <= max) return 0;
    const { cursor } = this.#row(target.key);
    const where = routeSql(target.routes);
    const drop = count - max;
    const row = this.#db
      .prepare(`SELECT o.seq FROM zw_outbox o WHERE o.seq > ? AND ${where.sql} ORDER BY o.seq LIMIT 1 OFFSET ?`)
      .get(cursor, ...where.args, drop - 1) as { seq: number } | undefined;
    if (!row) return 0;
    this.#db.prepare('UPDATE zw_delivery SET cursor = max(cursor, ?) WHERE destination = ?').run(row.seq, target.key);
    return drop;
  }

  /** Start tracking destinations now (their cursor starts at the current end of the outbox). */
  async track(targets: readonly string[]): Promise<void> {
    for (const t of targets) this.#row(t);
  }

  /** Drops outbox entries every live destination has settled (a removed destination's cursor no longer holds any). */
  async prune(liveTargets: readonly string[]): Promise<void> {
    const live = new Set(liveTargets);
    const rows = this.#db.prepare('SELECT destination, cursor FROM zw_delivery').all() as {
      destination: string;
      cursor: number;
    }[];
    let low = Number.POSITIVE_INFINITY;
    for (const r of rows) {
      if (live.has(r.destination)) low = Math.min(low, r.cursor);
    }
    if (!Number.isFinite(low))
      low = (this.#db.prepare('SELECT coalesce(max(seq), 0) AS n FROM zw_outbox').get() as { n: number }).n;
    this.#db.prepare('DELETE FROM zw_outbox WHERE seq <= ?').run(low);
  }

  /** For tests and `zen-watcher` diagnostics: the raw cursor of a destination. */
  cursorOf(dest: string): { cursor: number; sending: number } | undefined {
    return this.#db.prepare('SELECT cursor, sending FROM zw_delivery WHERE destination = ?').get(dest) as
      | { cursor: number; sending: number }
      | undefined;
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}

function lastSeq(items: readonly PendingItem[]): number {
  let last = 0;
  for (const i of items) last = Math.max(last, Number(i.ref));
  return last;
}
