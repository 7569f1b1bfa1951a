import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { storeObservation } from '../../test/support/observations.ts';
import type { Observation } from '../api/index.ts';
import { EnvError, readEnv } from '../config/env.ts';
import { SqliteStore } from './sqlite-store.ts';
import { StoreWriter, type WriterError, type WriterOutcome, type WriterRow } from './store-writer.ts';
import { SinkWriteError } from './types.ts';

const obs = (name: string, detectedAt: string): Observation =>
  storeObservation(name, detectedAt, detectedAt, { l: name });

/** The rows of a store file, as stored (every column). */
function rowsOf(dir: string): unknown[] {
  const db = new DatabaseSync(join(dir, 'observations.db'), { readOnly: true });
  try {
    return db
      .prepare(
        'SELECT namespace, name, source, severity, category, created_at, expires_at, detected_at, doc FROM observations ORDER BY name',
      )
      .all();
  } finally {
    db.close();
  }
}

/** The same writes (new names, repeats in one batch, a previous-window duplicate, one outside its window). */
async function scenario(store: SqliteStore): Promise<string[]> {
  const t = Date.parse('2026-12-01T00:00:00.000Z');
  const at = (s: number) => new Date(t + s * 1000).toISOString();
  const outcomes: string[] = [];
  const stored: string[] = [];
  const writes = [
    store.write(obs('a', at(0))),
    store.write(obs('b', at(1))),
    store.write(obs('a', at(0))), // same turn, same name
  ];
  outcomes.push(...(await Promise.all(writes)));
  // The next bucket's name with `a` as its previous bucket: within the window → a's duplicate; past it → created.
  outcomes.push(
    await store.write(obs('a2', at(30)), { name: 'a', notBefore: t - 1 }, { onStored: (s) => stored.push(s.name) }),
  );
  outcomes.push(
    await store.write(obs('a3', at(90)), { name: 'a', notBefore: t + 1 }, { onStored: (s) => stored.push(s.name) }),
  );
  return [...outcomes, ...stored];
}

/**
 * A writer on a fresh store file whose inserts of the name 'boom' fail (a trigger), with `commit` answering each
 * batch's outcomes or error message, and `names` reading what the file holds after the writer closed.
 */
async function boomWriter(dir: string) {
  const s = new SqliteStore(dir);
  await s.close(); // the table exists
  const db = new DatabaseSync(join(dir, 'observations.db'));
  db.exec(
    `CREATE TRIGGER t2 BEFORE INSERT ON observations WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'refused by test'); END;`,
  );
  db.close();
  const failures: string[] = [];
  const writer = new StoreWriter(join(dir, 'observations.db'), true, (r) => failures.push(r));
  const row = (name: string): WriterRow => ['ns', name, 's', 'high', 'c', 1, 2, 1, '{}', null, 0];
  const commit = (rows: WriterRow[]) =>
    new Promise<{ outcomes?: WriterOutcome[]; error?: WriterError }>((resolve) =>
      writer.commit(rows, (outcomes, error) =>
        resolve({ ...(outcomes ? { outcomes } : {}), ...(error ? { error } : {}) }),
      ),
    );
  const names = () => {
    const check = new DatabaseSync(join(dir, 'observations.db'), { readOnly: true });
    try {
      return (check.prepare('SELECT name FROM observations ORDER BY name').all() as { name: string }[]).map(
        (r) => r.name,
      );
    } finally {
      check.close();
    }
  };
  return { writer, row, commit, names, failures };
}

test('the writer worker stores exactly what the store writes on its own connection (outcomes, names, rows)', async () => {
  const worker = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  const inline = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  try {
    const a = new SqliteStore(worker);
    const b = new SqliteStore(inline, { writerWorker: false });
    const outA = await scenario(a);
    const outB = await scenario(b);
    await a.close();
    await b.close();
    assert.deepEqual(outA, ['created', 'created', 'duplicate', 'duplicate', 'created', 'a', 'a3']);
    assert.deepEqual(outA, outB);
    assert.deepEqual(rowsOf(worker), rowsOf(inline));
  } finally {
    rmSync(worker, { recursive: true, force: true });
    rmSync(inline, { recursive: true, force: true });
  }
});

test('the writer commits each batch in one transaction, and SQLite errors come back with their code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  try {
    const { writer, row, commit, names, failures } = await boomWriter(dir);
    assert.deepEqual(await commit([row('x'), row('y'), row('x')]), { outcomes: [1, 1, 0] });
    const failed = await commit([row('z'), row('boom')]);
    assert.equal(failed.outcomes, undefined);
    assert.match(failed.error?.message ?? '', /refused by test/);
    assert.equal((failed.error?.errcode ?? 0) & 0xff, 19, 'SQLITE_CONSTRAINT from RAISE(ABORT)');
    await writer.close();
    assert.deepEqual(names(), ['x', 'y'], "the failed batch's rows were rolled back together");
    assert.deepEqual(failures, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("batches sent together may share a transaction, but one batch's failure fails only that batch", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  try {
    const { writer, row, commit, names } = await boomWriter(dir);
    // Sent in one turn, as the store sends batches while earlier ones are in flight: the worker finds several
    // waiting and commits them together; the failing one is then committed alone and fails alone.
    assert.deepEqual(await commit([row('warm-up')]), { outcomes: [1] }); // the worker runs: the next ones queue up
    const answers = await Promise.all([
      commit([row('a'), row('b')]),
      commit([row('c'), row('boom')]),
      commit([row('d'), row('a')]),
      commit([row('e')]),
    ]);
    assert.deepEqual(answers[0], { outcomes: [1, 1] });
    assert.match(answers[1]?.error?.message ?? '', /refused by test/);
    assert.deepEqual(answers[2], { outcomes: [1, 0] }, "the third batch sees the first batch's row");
    assert.deepEqual(answers[3], { outcomes: [1] });
    await writer.close();
    assert.deepEqual(names(), ['a', 'b', 'd', 'e', 'warm-up'], "only the failed batch's rows are missing");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a burst of more than one batch (512 rows) in one turn is stored whole, every write settled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  try {
    const store = new SqliteStore(dir);
    const at = new Date().toISOString();
    const outcomes = await Promise.all(Array.from({ length: 1300 }, (_, i) => store.write(obs(`burst-${i}`, at))));
    assert.equal(outcomes.filter((o) => o === 'created').length, 1300);
    assert.equal(store.count(), 1300);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a writer that cannot run: its batch is refused (retryable), the store writes on its own connection after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zw-writer-'));
  try {
    const fallbacks: string[] = [];
    const store = new SqliteStore(dir, { onWriterFallback: (r) => fallbacks.push(r) });
    // Break the worker's start: its connection opens the file and prepares its statements there, which fail on a
    // table it cannot read. Renaming the table under the store makes the worker's prepare fail; the store's own
    // statements were prepared before and are re-prepared by SQLite, so it is back once the name is restored.
    const db = new DatabaseSync(join(dir, 'observations.db'));
    db.exec('ALTER TABLE observations RENAME TO observations_moved');
    const first = await store.write(obs('one', new Date().toISOString())).then(
      () => 'stored',
      (err) => err,
    );
    db.exec('ALTER TABLE observations_moved RENAME TO observations');
    db.close();
    assert.ok(first instanceof SinkWriteError, `refused, not stored: ${first}`);
    assert.equal(first.retryable, true);
    assert.equal(fallbacks.length, 1, `one fallback: ${fallbacks.join('; ')}`);
    assert.equal(await store.write(obs('two', new Date().toISOString())), 'created');
    assert.equal(await store.write(obs('three', new Date().toISOString())), 'created');
    assert.equal(store.count(), 2);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ZEN_STORE_WRITER: worker by default, inline on request, anything else refused with the variable named', () => {
  assert.equal(readEnv({}).storeWriter, 'worker');
  assert.equal(readEnv({ ZEN_STORE_WRITER: ' Inline ' }).storeWriter, 'inline');
  assert.throws(
    () => readEnv({ ZEN_STORE_WRITER: 'thread' }),
    (e) => {
      assert.ok(e instanceof EnvError);
      assert.match(e.message, /ZEN_STORE_WRITER.*worker.*inline.*'thread'/);
      return true;
    },
  );
});
