/**
 * The standalone store's insert cost with its schema as it is, and with the same table as a rowid table (the only
 * change: no `WITHOUT ROWID`), one insert per transaction and 64 per transaction. Case "today" goes through
 * SqliteStore.writeSync itself (its SELECT of the previous dedup bucket, then INSERT OR IGNORE); the others run the
 * same two statements on the DDL read back from a store SqliteStore created, so nothing is copied from core.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Observation } from '../../../core/api/index.ts';
import { sha256Hex } from '../../../core/pipeline/fingerprint.ts';
import { SqliteStore } from '../../../core/sinks/sqlite-store.ts';
import { cleanup, tempDir } from '../../support/host.ts';
import { observationBody } from './kube.ts';

export interface StoreCase {
  name: string;
  usPerInsert: number;
  maxMs: number;
  kbPerRow: number;
  fileMb: number;
}

function observation(i: number): Observation {
  const b = observationBody('default', i, 'falco');
  return {
    name: `falco-${sha256Hex(String(i)).slice(0, 16)}`,
    namespace: 'default',
    labels: b.metadata.labels,
    annotations: b.metadata.annotations,
    spec: b.spec,
  } as unknown as Observation;
}

function fileMb(dir: string): number {
  return statSync(join(dir, 'observations.db')).size / 1024 / 1024;
}

export function storeSchemaCases(rows = 30_000): StoreCase[] {
  const docs = Array.from({ length: rows }, (_, i) => observation(i));
  const previous = (o: Observation) => ({ name: `${o.name}-prev`, notBefore: 0 });
  const out: StoreCase[] = [];

  // Today: the store itself.
  const dirA = tempDir('zw-bench-store-');
  try {
    const store = new SqliteStore(dirA);
    let max = 0;
    const t0 = performance.now();
    for (const o of docs) {
      const t = performance.now();
      store.writeSync(o, previous(o));
      max = Math.max(max, performance.now() - t);
    }
    const us = ((performance.now() - t0) * 1000) / rows;
    void store.close();
    const db = new DatabaseSync(join(dirA, 'observations.db'));
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    db.close();
    const mb = fileMb(dirA);
    out.push({ name: 'WITHOUT ROWID (today)', usPerInsert: us, maxMs: max, fileMb: mb, kbPerRow: (mb * 1024) / rows });
  } finally {
    cleanup(dirA);
  }

  // The same DDL without WITHOUT ROWID.
  const probe = tempDir('zw-bench-store-');
  let ddl: string[];
  try {
    const s = new SqliteStore(probe);
    void s.close();
    const db = new DatabaseSync(join(probe, 'observations.db'), { readOnly: true });
    ddl = (
      db.prepare('SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC').all() as { sql: string }[]
    ).map((r) => r.sql.replace(/\)\s*WITHOUT ROWID\s*$/i, ')'));
    db.close();
  } finally {
    cleanup(probe);
  }
  for (const batch of [1, 64]) {
    const dir = tempDir('zw-bench-store-');
    try {
      const db = new DatabaseSync(join(dir, 'observations.db'));
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
      for (const sql of ddl) db.exec(sql);
      const sel = db.prepare('SELECT created_at FROM observations WHERE namespace = ? AND name = ?');
      const ins = db.prepare(
        'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      let max = 0;
      const t0 = performance.now();
      for (let b = 0; b < rows; b += batch) {
        const t = performance.now();
        if (batch > 1) db.exec('BEGIN');
        for (const o of docs.slice(b, b + batch)) {
          sel.get(o.namespace, previous(o).name);
          const now = Date.now();
          ins.run(
            o.namespace,
            o.name,
            o.spec.source,
            o.spec.severity,
            o.spec.category,
            now,
            now + 604_800_000,
            JSON.stringify(o),
          );
        }
        if (batch > 1) db.exec('COMMIT');
        max = Math.max(max, performance.now() - t);
      }
      const us = ((performance.now() - t0) * 1000) / rows;
      db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      db.close();
      const mb = fileMb(dir);
      out.push({
        name: batch === 1 ? 'rowid table' : `rowid table, ${batch} inserts per transaction`,
        usPerInsert: us,
        maxMs: max,
        fileMb: mb,
        kbPerRow: (mb * 1024) / rows,
      });
    } finally {
      cleanup(dir);
    }
  }
  return out;
}

export function formatStoreCases(cases: StoreCase[], rows: number): string {
  return [
    `standalone store, ${rows.toLocaleString('en-US')} Observation-sized rows (random names, previous-bucket SELECT + INSERT each):`,
    ...cases.map(
      (c) =>
        `  ${c.name.padEnd(44)} ${c.usPerInsert.toFixed(0).padStart(5)} µs/insert  max ${c.maxMs.toFixed(1).padStart(5)} ms  file ${c.fileMb.toFixed(1).padStart(6)} MB (${c.kbPerRow.toFixed(1)} KB/row)`,
    ),
  ].join('\n');
}
