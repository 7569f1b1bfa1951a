/**
 * 1. The standalone store alone, in this process: Falco-sized Observations written 16 at a time (as 16 connections
 * would), each with the previous-dedup-bucket lookup the pipeline asks for. zen-watcher = SqliteStore.write as it
 * is (group commit: one transaction per event-loop turn; rowid table with a unique index and a detected_at
 * column). Baseline = the layout and write path before issue #18, rebuilt here from its statements: a
 * `WITHOUT ROWID` table, one autocommit transaction per row, the previous bucket's detectedAt read with
 * json_extract from the document. CPU µs per row (process.cpuUsage) is the figure that load on the machine
 * disturbs least; wall time and file size are in the details. Median of alternating rounds.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Observation } from '../../../core/api/index.ts';
import { sha256Hex } from '../../../core/pipeline/fingerprint.ts';
import { SqliteStore } from '../../../core/sinks/sqlite-store.ts';
import { cleanup, tempDir } from '../../support/host.ts';
import { type BenchContext, median } from '../lib/context.ts';
import { observationBody } from '../lib/kube.ts';
import { fmt } from '../lib/report.ts';

const CONCURRENT = 16;

interface Result {
  cpuUs: number;
  wallUs: number;
  kbPerRow: number;
}

function observations(n: number, offset: number): Observation[] {
  return Array.from({ length: n }, (_, i) => {
    const b = observationBody('default', offset + i, 'falco');
    return {
      name: `falco-${sha256Hex(String(offset + i)).slice(0, 16)}`,
      namespace: 'default',
      labels: b.metadata.labels,
      annotations: { ...b.metadata.annotations, 'zen.kube-zen.io/first-seen': new Date().toISOString() },
      spec: b.spec,
    } as unknown as Observation;
  });
}

/** The write path before #18: WITHOUT ROWID, autocommit per row, json_extract for the previous bucket. */
class BaselineStore {
  readonly #db: DatabaseSync;
  readonly #sel;
  readonly #ins;
  constructor(dir: string) {
    this.#db = new DatabaseSync(join(dir, 'observations.db'));
    this.#db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
      CREATE TABLE observations (namespace TEXT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL,
        severity TEXT NOT NULL, category TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
        doc TEXT NOT NULL, PRIMARY KEY (namespace, name)) WITHOUT ROWID;
      CREATE INDEX observations_source ON observations (source, severity);
      CREATE INDEX observations_expiry ON observations (expires_at);`);
    this.#sel = this.#db.prepare(
      "SELECT created_at, json_extract(doc, '$.spec.detectedAt') AS detected_at FROM observations WHERE namespace = ? AND name = ?",
    );
    this.#ins = this.#db.prepare(
      'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }
  async write(o: Observation, previous: { name: string; notBefore: number }): Promise<'created' | 'duplicate'> {
    const row = this.#sel.get(o.namespace, previous.name) as { created_at: number } | undefined;
    if (row && row.created_at > previous.notBefore) return 'duplicate';
    const now = Date.parse(o.annotations['zen.kube-zen.io/first-seen'] ?? '');
    const r = this.#ins.run(
      o.namespace,
      o.name,
      o.spec.source,
      o.spec.severity,
      o.spec.category,
      now,
      now + o.spec.ttlSecondsAfterCreation * 1000,
      JSON.stringify(o),
    );
    return r.changes === 0 ? 'duplicate' : 'created';
  }
  async close(): Promise<void> {
    this.#db.close();
  }
}

async function run(
  make: (dir: string) => {
    write(o: Observation, p: { name: string; notBefore: number }): Promise<unknown>;
    close(): Promise<void>;
  },
  docs: Observation[],
): Promise<Result> {
  const dir = tempDir('zw-bench-store-');
  try {
    const s = make(dir);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let b = 0; b < docs.length; b += CONCURRENT) {
      await Promise.all(docs.slice(b, b + CONCURRENT).map((o) => s.write(o, { name: `${o.name}-prev`, notBefore: 0 })));
    }
    const c = process.cpuUsage(c0);
    const wall = performance.now() - t0;
    await s.close();
    const db = new DatabaseSync(join(dir, 'observations.db'));
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    return {
      cpuUs: (c.user + c.system) / docs.length,
      wallUs: (wall * 1000) / docs.length,
      kbPerRow: statSync(join(dir, 'observations.db')).size / 1024 / docs.length,
    };
  } finally {
    cleanup(dir);
  }
}

export async function storePart(ctx: BenchContext): Promise<void> {
  const rows = ctx.pick(30_000, 8_000);
  const rounds = ctx.pick(3, 1);
  const zs: Result[] = [];
  const bs: Result[] = [];
  for (let i = 0; i < rounds; i++) {
    bs.push(await run((d) => new BaselineStore(d), observations(rows, ctx.nextOffset())));
    zs.push(await run((d) => new SqliteStore(d), observations(rows, ctx.nextOffset())));
  }
  const z = median(zs, (x) => -x.cpuUs);
  const b = median(bs, (x) => -x.cpuUs);
  const d = (r: Result) => `${fmt(r.wallUs)} µs wall/row; file ${fmt(r.kbPerRow)} KB/row`;
  ctx.report.add({
    section: 1,
    name: `standalone store: ${fmt(rows)} Falco Observations, ${CONCURRENT} at a time, CPU per row`,
    unit: 'µs',
    value: z.cpuUs,
    detail: `group commit, rowid table; ${d(z)}`,
    baseline: b.cpuUs,
    baselineDetail: `autocommit per row, WITHOUT ROWID; ${d(b)}`,
    baselineName: 'the store before #18',
    better: 'lower',
  });
}
