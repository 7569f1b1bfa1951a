/**
 * The standalone sink: Observations in a node:sqlite file (`ZEN_DATA_DIR/observations.db`). The primary key is
 * (namespace, name) with the deterministic names, so a duplicate stays a duplicate across restarts, exactly as an
 * AlreadyExists does in Kubernetes. Writes are synchronous and single-process (WAL mode).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Observation } from '../api/index.ts';
import type { ObservationSink } from './types.ts';

const FIRST_SEEN = 'zen.kube-zen.io/first-seen';

export interface StoredObservation extends Observation {
  createdAt: string;
}

export interface ListOptions {
  source?: string;
  severity?: string;
  limit?: number;
}

export class SqliteStore implements ObservationSink {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #createdAt: StatementSync;
  #open = true;

  /** `dir` is created if missing; `:memory:` keeps everything in memory (tests, benchmarks). */
  constructor(dir: string, opts: { readOnly?: boolean } = {}) {
    if (dir === ':memory:') this.path = ':memory:';
    else {
      if (!opts.readOnly) mkdirSync(dir, { recursive: true });
      this.path = join(dir, 'observations.db');
    }
    this.#db = new DatabaseSync(this.path, { readOnly: opts.readOnly ?? false });
    if (!opts.readOnly) {
      this.#db.exec(`
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE IF NOT EXISTS observations (
          namespace TEXT NOT NULL,
          name TEXT NOT NULL,
          source TEXT NOT NULL,
          severity TEXT NOT NULL,
          category TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL,
          doc TEXT NOT NULL,
          PRIMARY KEY (namespace, name)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS observations_source ON observations (source, severity);
        CREATE INDEX IF NOT EXISTS observations_expiry ON observations (expires_at);
      `);
    }
    this.#insert = this.#db.prepare(
      'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    // Windows run on event time (the pipeline's windowTime): the previous bucket's detectedAt, from its document.
    this.#createdAt = this.#db.prepare(
      "SELECT created_at, json_extract(doc, '$.spec.detectedAt') AS detected_at FROM observations WHERE namespace = ? AND name = ?",
    );
  }

  async write(obs: Observation, previous?: { name: string; notBefore: number }): Promise<'created' | 'duplicate'> {
    return this.writeSync(obs, previous);
  }

  writeSync(obs: Observation, previous?: { name: string; notBefore: number }): 'created' | 'duplicate' {
    // The pipeline stamps when it first saw the finding; that, not the wall clock here, is the record's age.
    const seen = Date.parse(obs.annotations[FIRST_SEEN] ?? '');
    const now = Number.isNaN(seen) ? Date.now() : seen;
    if (previous) {
      const row = this.#createdAt.get(obs.namespace, previous.name) as
        | { created_at: number; detected_at: string | null }
        | undefined;
      const at = row ? Date.parse(row.detected_at ?? '') : Number.NaN;
      if (row && (Number.isFinite(at) ? at : row.created_at) > previous.notBefore) return 'duplicate';
    }
    const expires = now + obs.spec.ttlSecondsAfterCreation * 1000;
    const res = this.#insert.run(
      obs.namespace,
      obs.name,
      obs.spec.source,
      obs.spec.severity,
      obs.spec.category,
      now,
      expires,
      JSON.stringify(obs),
    );
    return res.changes === 0 ? 'duplicate' : 'created';
  }

  list(opts: ListOptions = {}): StoredObservation[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.source) {
      where.push('source = ?');
      args.push(opts.source);
    }
    if (opts.severity) {
      where.push('severity = ?');
      args.push(opts.severity);
    }
    const sql = `SELECT doc, created_at FROM observations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, name LIMIT ?`;
    args.push(opts.limit ?? 1000);
    const rows = this.#db.prepare(sql).all(...args) as { doc: string; created_at: number }[];
    return rows.map((r) => ({
      ...(JSON.parse(r.doc) as Observation),
      createdAt: new Date(r.created_at).toISOString(),
    }));
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM observations').get() as { n: number }).n;
  }

  /** TTL expiry for standalone mode; returns how many were deleted. */
  deleteExpired(now = Date.now(), limit = 500): number {
    const res = this.#db
      .prepare(
        'DELETE FROM observations WHERE (namespace, name) IN (SELECT namespace, name FROM observations WHERE expires_at <= ? LIMIT ?)',
      )
      .run(now, limit);
    return Number(res.changes);
  }

  ready(): boolean {
    return this.#open;
  }

  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#db.close();
  }
}
