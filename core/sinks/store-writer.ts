/**
 * The standalone store's group commits on a worker thread (ADR 0029).
 *
 * A new finding's INSERT, its previous-window SELECT and the commit's WAL writes were a fifth of the event loop's
 * time per alert, and a 400-event audit list's commit held the loop for milliseconds. Here a worker thread with its
 * own connection to the same file runs them, so they use the second core while the event loop parses, maps and
 * answers the next requests. What a write means does not change: the store settles a write only when the worker
 * says its transaction committed (a 2xx still means stored), and a failed transaction fails every write in it.
 *
 * Each event-loop turn's writes go over as one batch as soon as the turn ends, up to MAX_IN_FLIGHT batches, so a
 * write does not wait for the main thread to take the previous batch's answer (under load that wait was a loop turn
 * of several milliseconds). The worker commits every batch waiting for it in one transaction (the group commit);
 * if that transaction fails, it commits each batch on its own again, so one batch's failure (a constraint, a
 * damaged page) fails that batch only, as before. Rows go over as arrays of primitives, the document as the JSON
 * text the main thread would have written anyway, and outcomes come back as small arrays: no structured clone of
 * Observations.
 *
 * The worker starts with the first write (an idle process has none). If it cannot start or dies, `onFailure` tells
 * the store, which writes on its own connection again (logged by the host), and the batches in flight are refused
 * (503 + Retry-After: nothing of them was acknowledged). Its connection's transaction, if any, is rolled back by
 * SQLite when the connection closes or, after a crash, when the WAL is recovered.
 */
import { Worker } from 'node:worker_threads';
import { closeWorker } from './checkpointer.ts';

/**
 * Bytes a WAL is cut back to when it restarts: PRAGMA journal_size_limit on every connection that writes (ADR 0036).
 * Twice the WAL at which the tail pass runs: under steady load the WAL restarts at 64–75 MiB and keeps its blocks
 * (cutting it back to 64 MiB at every restart, then growing it again, measured a worse p99).
 */
export const WAL_SIZE_LIMIT = 128 * 1024 * 1024;

/**
 * One row: [namespace, name, source, severity, category, createdAt, expiresAt, detectedAt, doc, previousName,
 * previousNotBefore]. previousName is null when the write has no previous dedup bucket to look at.
 */
export type WriterRow = [
  string,
  string,
  string,
  string,
  string,
  number,
  number,
  number | null,
  string,
  string | null,
  number,
];

/** Per row: 1 = created, 0 = duplicate of its own name, 2 = duplicate of the previous bucket's Observation. */
export type WriterOutcome = 0 | 1 | 2;

/** SQLite's error as the worker saw it (the fields `sqliteReason` and `sqliteMessage` read). */
export interface WriterError {
  errcode?: number;
  errstr?: string;
  message: string;
}

// Plain JavaScript evaluated in the worker (no TypeScript loader there, no module resolution; getBuiltinModule works
// whether the inherited flags make the eval CommonJS or an ES module, e.g. --input-type=module): the same statements
// the store runs on its own connection (sqlite-store.ts #writeRow), on both table layouts.
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = ' + workerData.walSizeLimit);
db.exec(workerData.autoCheckpoint ? 'PRAGMA wal_autocheckpoint = 1000' : 'PRAGMA wal_autocheckpoint = 0');
const insert = db.prepare(workerData.hasDetectedAt
  ? 'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, detected_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
  : 'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const createdAt = db.prepare(workerData.hasDetectedAt
  ? 'SELECT created_at, detected_at FROM observations WHERE namespace = ? AND name = ?'
  : "SELECT created_at, json_extract(doc, '$.spec.detectedAt') AS detected_at FROM observations WHERE namespace = ? AND name = ?");
function writeRow(r) {
  if (r[9] !== null) {
    const row = createdAt.get(r[0], r[9]);
    if (row) {
      const at = typeof row.detected_at === 'number' ? row.detected_at : Date.parse(row.detected_at == null ? '' : row.detected_at);
      if ((Number.isFinite(at) ? at : row.created_at) > r[10]) return 2;
    }
  }
  const res = workerData.hasDetectedAt
    ? insert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
    : insert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[8]);
  return res.changes === 0 ? 0 : 1;
}
function control(m) {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return true;
  }
  if (m === 'autocheckpoint') db.exec('PRAGMA wal_autocheckpoint = 1000');
  if (m === 'tail') {
    // The WAL's tail, copied between two transactions of this connection: the next one then restarts the WAL.
    try {
      const r = db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get();
      parentPort.postMessage({ tail: { log: r.log, checkpointed: r.checkpointed } });
    } catch (e) {
      parentPort.postMessage({ tail: { error: errorOf(e) } });
    }
  }
  return false;
}
function errorOf(e) {
  return { errcode: e && e.errcode, errstr: e && e.errstr, message: String((e && e.message) || e) };
}
// Batches in one transaction; each batch's outcomes, or the transaction's error.
function commitAll(batches) {
  const outcomes = batches.map((b) => new Array(b.rows.length));
  db.exec('BEGIN IMMEDIATE');
  try {
    for (let j = 0; j < batches.length; j++) {
      const rows = batches[j].rows;
      for (let i = 0; i < rows.length; i++) outcomes[j][i] = writeRow(rows[i]);
    }
    db.exec('COMMIT');
  } catch (e) {
    try { db.exec('ROLLBACK'); } catch {}
    throw e;
  }
  return outcomes;
}
function commitWaiting(batches) {
  try {
    const outcomes = commitAll(batches);
    for (let j = 0; j < batches.length; j++) parentPort.postMessage({ id: batches[j].id, outcomes: outcomes[j] });
  } catch (e) {
    if (batches.length === 1) {
      parentPort.postMessage({ id: batches[0].id, error: errorOf(e) });
      return;
    }
    // One batch may be the cause: each on its own, so the others are stored as they would have been alone.
    for (const b of batches) commitWaiting([b]);
  }
}
parentPort.on('message', (first) => {
  if (typeof first === 'string') {
    control(first);
    return;
  }
  // Every batch already waiting goes into the same transaction (a control message ends the group, in order).
  const batches = [first];
  for (;;) {
    const next = receiveMessageOnPort(parentPort);
    if (!next) break;
    if (typeof next.message === 'string') {
      commitWaiting(batches);
      batches.length = 0;
      if (control(next.message)) return;
      continue;
    }
    batches.push(next.message);
  }
  if (batches.length > 0) commitWaiting(batches);
});
`;

/** The writer's checkpoint of the WAL's tail: frames in the WAL and copied (PRAGMA wal_checkpoint), or its error. */
export interface TailAnswer {
  log?: number;
  checkpointed?: number;
  error?: WriterError;
}

type Done = (outcomes: WriterOutcome[] | undefined, error: WriterError | undefined) => void;

/** Batches sent and not yet answered, at most: beyond it the store's queue waits (and grows the next batch). */
export const MAX_IN_FLIGHT = 4;

export class StoreWriter {
  readonly #path: string;
  readonly #hasDetectedAt: boolean;
  readonly #onFailure: (reason: string) => void;
  #worker: Worker | undefined;
  /** Batches sent, by id, in the order sent (the worker answers in that order). */
  readonly #inFlight = new Map<number, Done>();
  #nextId = 1;
  #failed = false;
  #closed = false;
  /** The checkpoint worker fell back: this connection checkpoints in its commits too (SQLite's automatic ones). */
  #autoCheckpoint = false;
  #idle: (() => void) | undefined;
  /** Callers waiting for the tail checkpoint they asked for (answered together: the worker runs them in order). */
  #tails: ((a: TailAnswer) => void)[] = [];

  /** `onFailure`: the worker cannot run (start failed, it died); the store writes on its own connection again. */
  constructor(path: string, hasDetectedAt: boolean, onFailure: (reason: string) => void) {
    this.#path = path;
    this.#hasDetectedAt = hasDetectedAt;
    this.#onFailure = onFailure;
  }

  /** True while any batch is being committed. */
  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  /** True when MAX_IN_FLIGHT batches are being committed: the store keeps its queue until one is answered. */
  get full(): boolean {
    return this.#inFlight.size >= MAX_IN_FLIGHT;
  }

  /** False once the worker failed or the writer closed: the store writes on its own connection. */
  get usable(): boolean {
    return !this.#failed && !this.#closed;
  }

  /**
   * Commits `rows` in one transaction on the worker, possibly with other batches (the caller sends at most
   * MAX_IN_FLIGHT: see `full`); `done` gets each row's outcome, or SQLite's error (every row of the batch failed), or
   * neither when the worker died (the store refuses the batch and writes inline again).
   */
  commit(rows: WriterRow[], done: Done): void {
    const id = this.#nextId++;
    this.#inFlight.set(id, done);
    try {
      this.#worker ??= this.#start();
      this.#worker.ref(); // a batch in flight keeps the process alive until its outcome is known
      this.#worker.postMessage({ id, rows });
    } catch (err) {
      this.#fail(`cannot start the store writer: ${(err as Error).message}`);
    }
  }

  #start(): Worker {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path: this.#path,
        hasDetectedAt: this.#hasDetectedAt,
        autoCheckpoint: this.#autoCheckpoint,
        walSizeLimit: WAL_SIZE_LIMIT,
      },
      // Its own small heap: it holds one batch of strings at a time.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
    w.on('message', (m: { id: number; outcomes?: WriterOutcome[]; error?: WriterError; tail?: TailAnswer }) => {
      if (m.tail) {
        const tails = this.#tails.splice(0);
        if (this.#inFlight.size === 0) w.unref();
        for (const t of tails) t(m.tail);
        return;
      }
      const done = this.#inFlight.get(m.id);
      if (!done) return;
      this.#inFlight.delete(m.id);
      if (this.#inFlight.size === 0) {
        w.unref();
        this.#settled();
      }
      done(m.outcomes, m.error);
    });
    w.on('error', (err) => this.#fail(`the store writer failed: ${err.message}`));
    w.on('exit', () => {
      if (!this.#closed) this.#fail('the store writer exited');
    });
    // Unref'd between batches: an idle writer does not keep the process alive; a batch in flight does (ref below).
    w.unref();
    return w;
  }

  /** The checkpoint worker cannot run: SQLite's automatic checkpoints on this connection too (the WAL stays bounded). */
  autoCheckpoint(): void {
    this.#autoCheckpoint = true;
    this.#worker?.postMessage('autocheckpoint');
  }

  /**
   * Checkpoints the WAL on the writer's own connection once the batches sent before are committed, before the next
   * ones (ADR 0036): no hold on the event loop, and no commit between the copy and the WAL's restart. Undefined when
   * the writer is not running (the caller holds the commits itself).
   */
  checkpointTail(): Promise<TailAnswer> | undefined {
    if (!this.usable || !this.#worker) return undefined;
    const w = this.#worker;
    return new Promise<TailAnswer>((resolve) => {
      this.#tails.push(resolve);
      w.ref(); // an answer due keeps the process alive, as a batch does
      w.postMessage('tail');
    });
  }

  #settled(): void {
    const idle = this.#idle;
    this.#idle = undefined;
    idle?.();
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    const w = this.#worker;
    this.#worker = undefined;
    void w?.terminate();
    const pending = [...this.#inFlight.values()];
    this.#inFlight.clear();
    this.#onFailure(reason);
    this.#settled();
    for (const done of pending) done(undefined, undefined);
    for (const t of this.#tails.splice(0)) t({ error: { message: reason } });
  }

  /** Waits for the batches in flight, then closes the worker's connection. */
  async close(): Promise<void> {
    if (this.#inFlight.size > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await closeWorker(w);
  }
}
