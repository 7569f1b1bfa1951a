/**
 * The standalone sink: Observations in a node:sqlite file (`ZEN_DATA_DIR/observations.db`). The primary key is
 * (namespace, name) with the deterministic names, so a duplicate stays a duplicate across restarts, exactly as an
 * AlreadyExists does in Kubernetes. Single-process, WAL mode.
 *
 * Group commit: `write()` queues the row and the queue is written in one transaction at the next turn of the event
 * loop (setImmediate), so the requests that arrived together share one commit; each write's promise settles only
 * after its transaction committed (or failed: then every write of it fails, nothing is half-acknowledged). For a
 * file-backed store the transactions run on a worker thread with its own connection (store-writer.ts, ADR 0029),
 * one batch at a time: the writes that arrive while one commits form the next. If that worker cannot run (or with
 * `writerWorker: false`, ZEN_STORE_WRITER=inline), the store writes on its own connection, as before.
 *
 * A write that fails (full filesystem, I/O error, corrupt page) throws a SinkWriteError — the webhook is answered
 * 503 with Retry-After, never 2xx — and marks the store not writable: `ready()` is false (so `/readyz` is 503)
 * until a write succeeds again, which a probe tries every `probeIntervalMs` on its own. A damaged page
 * (`store_corrupt`) does not heal: once a write meets one, the store stays not ready until it is reopened (writes
 * that miss the damage are still stored and acknowledged; those that hit it are refused). A store that is corrupt
 * when it is opened is refused (StoreOpenError, PRAGMA quick_check).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { ZwError } from '../api/errors.ts';
import type { Observation } from '../api/index.ts';
import { parseIso } from '../pipeline/iso-time.ts';
import {
  CONTENT_AT_ANNOTATION,
  contentToApply,
  MUTABLE_SPEC_FIELDS,
  mergeOccurrences,
  type OccurrenceDelta,
} from '../pipeline/occurrences.ts';
import { Checkpointer, type CheckpointResult } from './checkpointer.ts';
import { StoreWriter, WAL_SIZE_LIMIT, type WriterError, type WriterOutcome, type WriterRow } from './store-writer.ts';
import { type ObservationSink, SinkWriteError, type WriteOptions } from './types.ts';

const FIRST_SEEN = 'zen.kube-zen.io/first-seen';

/** Why the store cannot write: the metric label and the first word of the log line. */
export type StoreFailureReason = 'store_full' | 'store_io' | 'store_corrupt' | 'store_readonly' | 'store_error';

export interface StoreFailure {
  reason: StoreFailureReason;
  /** SQLite's own words (`database or disk is full`, `disk I/O error`, `database disk image is malformed`). */
  message: string;
  /** When the first write failed (ms since the epoch). */
  since: number;
}

export interface StoreEvents {
  /** Every failed write (and failed probe while not writable), for a metric. */
  onWriteFailure?(reason: StoreFailureReason, probe: boolean): void;
  /** Writable → not writable (once per outage). */
  onUnwritable?(failure: StoreFailure): void;
  /** Not writable → writable again (a write or the probe succeeded). */
  onWritable?(failure: StoreFailure, downMs: number): void;
}

export interface StoredObservation extends Observation {
  createdAt: string;
  /** Occurrence counts (and, in Kubernetes, the phase); absent until the first repeat. */
  status?: { phase?: string; count?: number; firstSeen?: string; lastSeen?: string; [k: string]: unknown };
}

export interface ListOptions {
  source?: string;
  severity?: string;
  limit?: number;
}

/** The store cannot be opened or is corrupt: starting on it would lose writes, so the caller must refuse. */
export class StoreOpenError extends ZwError {
  readonly path: string;
  constructor(path: string, message: string, cause?: unknown) {
    super('ZW_ERR_STORE_OPEN', message, { cause });
    this.name = 'StoreOpenError';
    this.path = path;
  }
}

/** SQLite's primary result code (node:sqlite errors carry `errcode`, possibly an extended code). */
export function sqliteReason(err: unknown): StoreFailureReason {
  const code = Number((err as { errcode?: unknown })?.errcode) & 0xff;
  switch (code) {
    case 13: // SQLITE_FULL
      return 'store_full';
    case 10: // SQLITE_IOERR
    case 14: // SQLITE_CANTOPEN
      return 'store_io';
    case 11: // SQLITE_CORRUPT
    case 26: // SQLITE_NOTADB
      return 'store_corrupt';
    case 8: // SQLITE_READONLY
      return 'store_readonly';
    default:
      return 'store_error';
  }
}

function sqliteMessage(err: unknown): string {
  const e = err as { errstr?: unknown; message?: unknown };
  return typeof e?.errstr === 'string' ? e.errstr : typeof e?.message === 'string' ? e.message : String(err);
}

const RETRY_AFTER_SECONDS = 5;
/** Rows per transaction at most (a burst is split so one commit does not hold the event loop for long). */
const MAX_BATCH = 512;
/** Rows written between two WAL checkpoints on the checkpoint worker (about 2 MB of WAL for Falco-sized rows). */
const CHECKPOINT_EVERY_ROWS = 1000;

interface PendingWrite {
  obs: Observation;
  previous: { name: string; notBefore: number } | undefined;
  opts: WriteOptions | undefined;
  resolve: (outcome: 'created' | 'duplicate') => void;
  reject: (err: unknown) => void;
}

export class SqliteStore implements ObservationSink {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #createdAt: StatementSync;
  /** Occurrence counts: prepared at the first repeat (once). */
  #getDoc: StatementSync | undefined;
  #setDoc: StatementSync | undefined;
  readonly #events: StoreEvents;
  readonly #probeIntervalMs: number;
  #probeTimer: NodeJS.Timeout | undefined;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  /** Group commits on a worker thread (ADR 0029); undefined for `:memory:`, read-only stores, or when turned off. */
  readonly #writer: StoreWriter | undefined;
  /** close() was called: new writes are refused, queued ones are still committed. */
  #closing = false;
  /** Settled by #committed when the queue is empty and no batch is in flight (close() waits on it). */
  #drained: (() => void) | undefined;
  /** Commits held for the checkpoint worker's tail pass (ADR 0036): writes queue, nothing is refused. */
  #holding = false;
  /** Settled once no batch is in flight while #holding. */
  #heldIdle: (() => void) | undefined;
  /** New stores keep detectedAt in a column; stores created before (WITHOUT ROWID) read it from the document. */
  readonly #hasDetectedAt: boolean;
  #failure: StoreFailure | undefined;
  #open = true;
  /** WAL checkpoints off the event loop (ADR 0021); undefined for `:memory:` and read-only stores. */
  readonly #checkpointer: Checkpointer | undefined;

  /**
   * `dir` is created if missing; `:memory:` keeps everything in memory (tests, benchmarks). Throws StoreOpenError
   * when the file cannot be opened or fails PRAGMA quick_check (writable opens only).
   */
  constructor(
    dir: string,
    opts: {
      readOnly?: boolean;
      probeIntervalMs?: number;
      integrityCheck?: boolean;
      /** WAL checkpoints on a worker thread (default true); false = SQLite's automatic ones, in the commits. */
      checkpointWorker?: boolean;
      /** The checkpoint worker could not run: automatic checkpoints are back on (logged by the host). */
      onCheckpointFallback?: (reason: string) => void;
      /** Group commits on a worker thread (default true for a writable file); false = on the event loop. */
      writerWorker?: boolean;
      /** The writer worker could not run: commits are back on the event loop (logged by the host). */
      onWriterFallback?: (reason: string) => void;
      /** Each checkpoint: WAL frames, frames copied, whether it was a tail pass (ADR 0036). */
      onCheckpoint?: (r: CheckpointResult) => void;
      /** Rows between two checkpoints (default 1,000) and the WAL frames past which the tail pass runs (tests). */
      checkpointEveryRows?: number;
      walTailMinFrames?: number;
    } & StoreEvents = {},
  ) {
    if (dir === ':memory:') this.path = ':memory:';
    else {
      if (!opts.readOnly) mkdirSync(dir, { recursive: true });
      this.path = join(dir, 'observations.db');
    }
    this.#events = opts;
    this.#probeIntervalMs = opts.probeIntervalMs ?? 1000;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(this.path, { readOnly: opts.readOnly ?? false });
      if (!opts.readOnly) {
        // busy_timeout: the writer worker's connection (and the outbox's) may hold the write lock for one commit.
        // journal_size_limit: a WAL that a burst grew is cut back to 128 MiB when it restarts (ADR 0036).
        db.exec(
          `PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT};`,
        );
        if (opts.integrityCheck !== false && this.path !== ':memory:') integrityCheck(db, this.path);
        // A rowid table with a unique index: each ~1-2 KB document stays on its table page (WITHOUT ROWID put every
        // one in its own overflow page: 4.7 KB of file per row, twice the insert cost). Stores created before
        // keep their WITHOUT ROWID table: the statements below work on both.
        db.exec(`
          CREATE TABLE IF NOT EXISTS observations (
            id INTEGER PRIMARY KEY,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            severity TEXT NOT NULL,
            category TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            detected_at INTEGER,
            doc TEXT NOT NULL
          );
          CREATE UNIQUE INDEX IF NOT EXISTS observations_name ON observations (namespace, name);
          CREATE INDEX IF NOT EXISTS observations_source ON observations (source, severity);
          CREATE INDEX IF NOT EXISTS observations_expiry ON observations (expires_at);
          CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, pad BLOB);
        `);
      }
      this.#db = db;
      if (!opts.readOnly && this.path !== ':memory:' && opts.checkpointWorker !== false) {
        const conn = db;
        conn.exec('PRAGMA wal_autocheckpoint = 0');
        this.#checkpointer = new Checkpointer(this.path, {
          everyRows: opts.checkpointEveryRows ?? CHECKPOINT_EVERY_ROWS,
          fallback: (reason) => {
            if (this.#open) conn.exec('PRAGMA wal_autocheckpoint = 1000');
            this.#writer?.autoCheckpoint();
            opts.onCheckpointFallback?.(reason);
          },
          writes: {
            hold: () => this.#hold(),
            release: () => this.#release(),
            checkpointTail: () => this.#writer?.checkpointTail(),
          },
          onResult: opts.onCheckpoint,
          tailMinFrames: opts.walTailMinFrames,
        });
      }
      this.#hasDetectedAt = (db.prepare('PRAGMA table_info(observations)').all() as { name: string }[]).some(
        (c) => c.name === 'detected_at',
      );
      this.#insert = this.#hasDetectedAt
        ? db.prepare(
            'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, detected_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
        : db.prepare(
            'INSERT OR IGNORE INTO observations (namespace, name, source, severity, category, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          );
      // Windows run on event time (the pipeline's windowTime): the previous bucket's detectedAt.
      this.#createdAt = db.prepare(
        this.#hasDetectedAt
          ? 'SELECT created_at, detected_at FROM observations WHERE namespace = ? AND name = ?'
          : "SELECT created_at, json_extract(doc, '$.spec.detectedAt') AS detected_at FROM observations WHERE namespace = ? AND name = ?",
      );
      if (!opts.readOnly && this.path !== ':memory:' && opts.writerWorker !== false) {
        this.#writer = new StoreWriter(this.path, this.#hasDetectedAt, (reason) => {
          opts.onWriterFallback?.(reason);
          // Writes queued meanwhile go on the event loop now.
          if (this.#queue.length > 0 && !this.#flushScheduled) {
            this.#flushScheduled = true;
            setImmediate(this.#flush);
          }
        });
        // Without the checkpoint worker the connections checkpoint in their commits, the writer's included.
        if (!this.#checkpointer) this.#writer.autoCheckpoint();
      }
    } catch (err) {
      try {
        db?.close();
      } catch {}
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(this.path, openHint(this.path, err), err);
    }
  }

  /** Group commit: queued, written with the others of this event-loop turn in one transaction (see the top). */
  write(
    obs: Observation,
    previous?: { name: string; notBefore: number },
    opts?: WriteOptions,
  ): Promise<'created' | 'duplicate'> {
    if (!this.#open || this.#closing)
      return Promise.reject(new SinkWriteError('store closed', { retryable: false, reason: 'shutdown' }));
    return new Promise((resolve, reject) => {
      this.#queue.push({ obs, previous, opts, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  /** Writes the queue, MAX_BATCH rows per transaction, and settles each write after its commit. */
  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#holding) return; // #release flushes what queued meanwhile
    while (this.#queue.length > 0) {
      // At most MAX_IN_FLIGHT batches on the worker; an answer flushes what queued meanwhile (#committed).
      if (this.#writer?.usable && this.#writer.full) return;
      const batch = this.#queue.length <= MAX_BATCH ? this.#queue : this.#queue.slice(0, MAX_BATCH);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(MAX_BATCH);
      if (!this.#open) {
        for (const w of batch) w.reject(new SinkWriteError('store closed', { retryable: false, reason: 'shutdown' }));
        continue;
      }
      if (this.#writer?.usable) {
        let rows: WriterRow[];
        try {
          rows = batch.map((w) => rowOf(w.obs, w.previous));
        } catch (err) {
          for (const w of batch) w.reject(err);
          continue;
        }
        this.#writer.commit(rows, (outcomes, error) => this.#committed(batch, outcomes, error));
        continue; // a burst larger than MAX_BATCH goes on as the next batch while a slot is free
      }
      let outcomes: WriterOutcome[];
      try {
        outcomes = this.#transaction(() => batch.map((w) => this.#writeRow(rowOf(w.obs, w.previous))));
      } catch (err) {
        const failure = this.#failed(err, false);
        for (const w of batch) w.reject(failure);
        continue;
      }
      this.#settle(batch, outcomes);
    }
  };

  /** The writer worker's answer for `batch`: settle it, then commit what queued meanwhile. */
  #committed(batch: PendingWrite[], outcomes: WriterOutcome[] | undefined, error: WriterError | undefined): void {
    if (outcomes) this.#settle(batch, outcomes);
    else {
      // SQLite's error (every write of the transaction failed), or the worker died (nothing of the batch is known
      // to be stored: refused, and the sender retries; the store writes on its own connection from now on).
      const failure = error
        ? this.#failed(error, false)
        : new SinkWriteError('the store writer stopped before its commit was confirmed', {
            retryable: true,
            reason: 'store_error',
            retryAfterSeconds: RETRY_AFTER_SECONDS,
          });
      for (const w of batch) w.reject(failure);
    }
    // A flush already scheduled for this turn takes the queue with what else the turn adds; else (the queue waited
    // for a batch slot) now.
    if (this.#queue.length > 0 && !this.#flushScheduled) this.#flush();
    if (!this.#writer?.busy) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained?.();
      const idle = this.#heldIdle;
      this.#heldIdle = undefined;
      idle?.();
    }
  }

  /** The checkpoint worker's tail pass: no new commit, and resolved once none is in flight (ADR 0036). */
  #hold(): Promise<void> {
    this.#holding = true;
    if (!this.#writer?.busy) return Promise.resolve();
    return new Promise<void>((resolve) => (this.#heldIdle = resolve));
  }

  #release(): void {
    this.#holding = false;
    const idle = this.#heldIdle;
    this.#heldIdle = undefined;
    idle?.();
    if (this.#queue.length > 0 && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Committed: only now is each row reported stored (onStored) and its write settled. */
  #settle(batch: PendingWrite[], outcomes: WriterOutcome[]): void {
    this.#checkpointer?.written(batch.length);
    if (this.#failure) this.#recovered();
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      const o = outcomes[i]!;
      const storedName = o === 2 ? w.previous!.name : w.obs.name;
      w.opts?.onStored?.({ namespace: w.obs.namespace, name: storedName });
      w.resolve(o === 1 ? 'created' : 'duplicate');
    }
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (err) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {} // SQLite may have rolled back already (SQLITE_FULL, IOERR)
      throw err;
    }
  }

  /** One row in its own transaction, now (tests, benchmarks). */
  writeSync(
    obs: Observation,
    previous?: { name: string; notBefore: number },
    opts?: WriteOptions,
  ): 'created' | 'duplicate' {
    if (!this.#open) throw new SinkWriteError('store closed', { retryable: false, reason: 'shutdown' });
    let o: WriterOutcome;
    try {
      o = this.#writeRow(rowOf(obs, previous));
    } catch (err) {
      throw this.#failed(err, false);
    }
    this.#checkpointer?.written(1);
    if (this.#failure) this.#recovered();
    opts?.onStored?.({ namespace: obs.namespace, name: o === 2 ? previous!.name : obs.name });
    return o === 1 ? 'created' : 'duplicate';
  }

  /**
   * One row on the store's own connection: 1 created, 0 its name exists, 2 the previous bucket's Observation stands
   * for it (written within its window). The writer worker runs the same statements (store-writer.ts).
   */
  #writeRow(r: WriterRow): WriterOutcome {
    if (r[9] !== null) {
      const row = this.#createdAt.get(r[0], r[9]) as
        | { created_at: number; detected_at: string | number | null }
        | undefined;
      if (row) {
        const at = typeof row.detected_at === 'number' ? row.detected_at : Date.parse(row.detected_at ?? '');
        if ((Number.isFinite(at) ? at : row.created_at) > r[10]) return 2;
      }
    }
    const res = this.#hasDetectedAt
      ? this.#insert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8])
      : this.#insert.run(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[8]);
    return res.changes === 0 ? 0 : 1;
  }

  /**
   * Records a failed write (or probe) and returns the error for the caller. A damaged page replaces any other
   * failure and is kept (#recovered ignores it): writes elsewhere in the file and the probe's own table may still
   * succeed, but the store would refuse whichever events land on the damage, again on every retry.
   */
  #failed(err: unknown, probe: boolean): SinkWriteError {
    const reason = sqliteReason(err);
    const message = sqliteMessage(err);
    this.#events.onWriteFailure?.(reason, probe);
    if (!this.#failure || (reason === 'store_corrupt' && this.#failure.reason !== 'store_corrupt')) {
      this.#failure = { reason, message, since: Date.now() };
      this.#events.onUnwritable?.(this.#failure);
      if (reason === 'store_corrupt') {
        clearTimeout(this.#probeTimer);
        this.#probeTimer = undefined;
      } else this.#scheduleProbe();
    }
    return new SinkWriteError(`the store cannot write (${reason}): ${message}`, {
      retryable: true,
      reason,
      cause: err,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  }

  #recovered(): void {
    const f = this.#failure!;
    if (f.reason === 'store_corrupt') return; // until the store is reopened (and checked)
    this.#failure = undefined;
    clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#events.onWritable?.(f, Date.now() - f.since);
  }

  #scheduleProbe(): void {
    if (!this.#open || this.#probeTimer) return;
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = undefined;
      if (!this.#open || !this.#failure) return;
      if (this.probe()) this.#recovered();
      else if (this.#failure.reason !== 'store_corrupt') this.#scheduleProbe();
    }, this.#probeIntervalMs);
    this.#probeTimer.unref();
  }

  /**
   * One write transaction the size of a large Observation (16 KiB), then removed again: true when the store
   * can write. Runs on its own while the store is not writable; a real write that succeeds counts as well.
   */
  probe(): boolean {
    try {
      this.#db
        .prepare('INSERT OR REPLACE INTO store_probe (id, at, pad) VALUES (1, ?, zeroblob(16384))')
        .run(Date.now());
      this.#db.exec('DELETE FROM store_probe');
      return true;
    } catch (err) {
      this.#failed(err, true);
      return false;
    }
  }

  /** Undefined while writable; else why not, since when. */
  get failure(): Readonly<StoreFailure> | undefined {
    return this.#failure;
  }

  /** Occurrence counts (status.count/firstSeen/lastSeen in the document); one process, so read-then-write is safe. */
  async addOccurrences(d: OccurrenceDelta): Promise<'applied' | 'gone'> {
    this.#getDoc ??= this.#db.prepare('SELECT doc FROM observations WHERE namespace = ? AND name = ?');
    this.#setDoc ??= this.#db.prepare('UPDATE observations SET doc = ? WHERE namespace = ? AND name = ?');
    const row = this.#getDoc.get(d.namespace, d.name) as { doc: string } | undefined;
    if (!row) return 'gone';
    const doc = JSON.parse(row.doc) as Observation & { status?: Record<string, unknown> };
    const content = contentToApply(doc, d.content);
    if (content) {
      // An update in place (webhook source): the later report's mutable fields, as in Kubernetes.
      const spec = doc.spec as unknown as Record<string, unknown>;
      for (const k of MUTABLE_SPEC_FIELDS) {
        if (content[k] === undefined) delete spec[k];
        else spec[k] = content[k];
      }
      doc.labels = { ...doc.labels, severity: content.severity, category: content.category };
      doc.annotations = {
        ...doc.annotations,
        'zen.kube-zen.io/content-hash': content.hash,
        [CONTENT_AT_ANNOTATION]: new Date(content.at).toISOString(),
      };
    }
    const status: Record<string, unknown> = { ...doc.status, ...mergeOccurrences(doc, d) };
    for (const [k, v] of Object.entries(status)) if (v === null) delete status[k];
    doc.status = status;
    if (content) {
      this.#db
        .prepare('UPDATE observations SET doc = ?, severity = ?, category = ? WHERE namespace = ? AND name = ?')
        .run(JSON.stringify(doc), doc.spec.severity, doc.spec.category, d.namespace, d.name);
    } else this.#setDoc.run(JSON.stringify(doc), d.namespace, d.name);
    this.#checkpointer?.written(1);
    return 'applied';
  }

  /** Merges `patch` into the document's status (null removes a field); false when there is no such Observation. */
  patchStatus(namespace: string, name: string, patch: Record<string, unknown>): boolean {
    this.#getDoc ??= this.#db.prepare('SELECT doc FROM observations WHERE namespace = ? AND name = ?');
    this.#setDoc ??= this.#db.prepare('UPDATE observations SET doc = ? WHERE namespace = ? AND name = ?');
    const row = this.#getDoc.get(namespace, name) as { doc: string } | undefined;
    if (!row) return false;
    const doc = JSON.parse(row.doc) as Observation & { status?: Record<string, unknown> };
    const status: Record<string, unknown> = { ...doc.status, ...patch };
    for (const [k, v] of Object.entries(status)) if (v === null) delete status[k];
    doc.status = status;
    this.#setDoc.run(JSON.stringify(doc), namespace, name);
    this.#checkpointer?.written(1);
    return true;
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

  /** PRAGMA quick_check: 'ok', or SQLite's list of problems (at most 10). */
  quickCheck(): string[] {
    return (this.#db.prepare('PRAGMA quick_check(10)').all() as Record<string, string>[]).map(
      (r) => Object.values(r)[0] ?? '',
    );
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
    return this.#open && !this.#failure;
  }

  notReadyReason(): string | undefined {
    if (!this.#open) return 'store closed';
    const f = this.#failure;
    if (!f) return undefined;
    const since = `since ${new Date(f.since).toISOString()}`;
    return f.reason === 'store_corrupt'
      ? `the store cannot write (store_corrupt: ${f.message}) ${since}; a damaged page does not heal: stop zen-watcher, move ${this.path} (and its -wal and -shm files) aside or restore a backup, and start again`
      : `the store cannot write (${f.reason}: ${f.message}) ${since}`;
  }

  async close(): Promise<void> {
    if (!this.#open || this.#closing) return;
    this.#closing = true;
    this.#holding = false; // a tail pass in flight does not hold the last commits
    // Writes already queued are committed (or fail) before the file closes.
    this.#flush();
    if (this.#writer?.busy) await new Promise<void>((resolve) => (this.#drained = resolve));
    await this.#writer?.close();
    this.#flush(); // anything the writer left (it failed meanwhile) on this connection
    this.#open = false;
    clearTimeout(this.#probeTimer);
    await this.#checkpointer?.close();
    this.#db.close();
  }
}

/** A write as the row both connections insert: the document as JSON, times in ms since the epoch. */
function rowOf(obs: Observation, previous: { name: string; notBefore: number } | undefined): WriterRow {
  // The pipeline stamps when it first saw the finding; that, not the wall clock here, is the record's age.
  const seen = parseIso(obs.annotations[FIRST_SEEN] ?? '');
  const now = Number.isNaN(seen) ? Date.now() : seen;
  return [
    obs.namespace,
    obs.name,
    obs.spec.source,
    obs.spec.severity,
    obs.spec.category,
    now,
    now + obs.spec.ttlSecondsAfterCreation * 1000,
    detectedMs(obs),
    JSON.stringify(obs),
    previous ? previous.name : null,
    previous ? previous.notBefore : 0,
  ];
}

function detectedMs(obs: Observation): number | null {
  const t = parseIso(obs.spec.detectedAt ?? '');
  return Number.isFinite(t) ? t : null;
}

/** Refuses a store that PRAGMA quick_check finds damaged. */
function integrityCheck(db: DatabaseSync, path: string): void {
  const problems = (db.prepare('PRAGMA quick_check(10)').all() as Record<string, string>[]).map(
    (r) => Object.values(r)[0] ?? '',
  );
  if (problems.length === 1 && problems[0] === 'ok') return;
  throw new StoreOpenError(
    path,
    `the standalone store ${path} is corrupt (PRAGMA quick_check: ${problems.join('; ').slice(0, 500)}). ` +
      'zen-watcher will not write to it: writes would be lost. Stop zen-watcher, move the file (and its -wal and ' +
      '-shm files) aside or restore a backup, and start again; a new, empty store is then created. ' +
      "Rows that can still be read: sqlite3 <file> '.recover'.",
  );
}

function openHint(path: string, err: unknown): string {
  const reason = sqliteReason(err);
  const message = sqliteMessage(err);
  const what =
    reason === 'store_corrupt'
      ? 'is corrupt or not an SQLite database. Move it (and its -wal and -shm files) aside or restore a backup, and start again'
      : reason === 'store_full'
        ? 'cannot be written: its filesystem is full. Free space on it (or point ZEN_DATA_DIR elsewhere) and start again'
        : reason === 'store_readonly'
          ? 'is read-only. Make ZEN_DATA_DIR writable for this user, or point ZEN_DATA_DIR elsewhere'
          : 'cannot be opened. Check that ZEN_DATA_DIR exists and is writable';
  return `the standalone store ${path} ${what} (${message})`;
}
