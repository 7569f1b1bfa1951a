/**
 * The standalone outbox across an upgrade: a store whose outbox was created before phase changes were delivered
 * (no `event`/`version` columns) gains them on open; its pending entries are first firings with the keys they always
 * had, and a resolution written afterwards is queued as a `resolved` event.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import { SqliteOutbox } from './sqlite-outbox.ts';
import { idempotencyKey } from './state.ts';

test('an outbox from before phase events: columns added on open, old entries are first firings, resolutions queue', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zw-outbox-'));
  const store = new SqliteStore(dir);
  const file = store.path;
  const old = new DatabaseSync(file);
  old.exec(`
    CREATE TABLE zw_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, name TEXT NOT NULL,
      ingester TEXT NOT NULL, source TEXT NOT NULL, severity TEXT NOT NULL, category TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE TABLE zw_delivery (destination TEXT PRIMARY KEY, cursor INTEGER NOT NULL, sending INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
    INSERT INTO zw_delivery VALUES ('default/d', 0, 0);
  `);
  const doc = {
    name: 'o1',
    namespace: 'default',
    labels: { 'zen.kube-zen.io/ingester': 'tool', 'zen.kube-zen.io/ingester-namespace': 'default' },
    annotations: {},
    spec: {
      source: 'tool',
      category: 'security',
      severity: 'high',
      eventType: 'e',
      title: 't',
      fingerprint: 'f',
      detectedAt: new Date().toISOString(),
      ttlSecondsAfterCreation: 3600,
    },
  };
  const now = Date.now();
  old
    .prepare(
      'INSERT INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    )
    .run('default', 'o1', 'tool', 'high', 'security', now, now + 3_600_000, JSON.stringify(doc));
  old
    .prepare(
      'INSERT INTO zw_outbox (namespace, name, ingester, source, severity, category, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    .run('default', 'o1', 'default/tool', 'tool', 'high', 'security', now);
  old.close();

  const outbox = new SqliteOutbox(file);
  const target = { key: 'default/d', routes: [{ ingester: 'default/tool' }] };
  try {
    const [first, ...rest] = await outbox.next(target, 10);
    assert.equal(rest.length, 0);
    assert.equal(first!.event, 'firing');
    assert.equal(first!.key, idempotencyKey('default/d', 'default', 'o1', 'firing'), 'the key it always had');
    await outbox.settle(target, [first!]);
    // The source resolves it (the store rewrites the document's status): a resolved event is queued.
    const resolvedAt = new Date(now + 1000).toISOString();
    store.patchStatus('default', 'o1', { phase: 'Resolved', resolvedAt });
    const [r] = await outbox.next(target, 10);
    assert.equal(r?.event, 'resolved');
    assert.equal(r?.observation.phase, 'Resolved');
    assert.equal(r?.observation.resolvedAt, resolvedAt);
    assert.equal(r?.key, idempotencyKey('default/d', 'default', 'o1', 'resolved', `R/${resolvedAt}`));
    await outbox.settle(target, [r!]);
    // A status change that keeps the phase (a count) queues nothing.
    store.patchStatus('default', 'o1', { count: 3 });
    assert.deepEqual(await outbox.next(target, 10), []);
  } finally {
    await outbox.close();
    await store.close();
  }
});
