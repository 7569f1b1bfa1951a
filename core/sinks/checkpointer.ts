/**
 * WAL checkpoints of the standalone store on a worker thread (ADR 0021).
 *
 * In WAL mode with `synchronous = NORMAL` a commit appends to the WAL and does not fsync; the fsync happens when
 * the WAL is copied back into the database file (a checkpoint). SQLite runs that checkpoint inside whichever commit
 * crosses `wal_autocheckpoint` pages, i.e. on the event loop, which then waits for the disk: under ingest load most
 * of the store's wall time was this wait (issue #18). Here the store's own connection runs with automatic
 * checkpoints off, and a worker thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` after every
 * `everyRows` rows written (PASSIVE never blocks the writer; the next commit after a complete checkpoint restarts
 * the WAL from its beginning, so it does not grow without bound).
 *
 * Nothing about durability changes: a commit is in the WAL before its write is answered, exactly as before, and a
 * crash recovers the WAL on the next open. The worker starts at the first checkpoint due (an idle process has
 * none), and if it cannot run (fails to start, dies, or a checkpoint errors) the store falls back to SQLite's own
 * automatic checkpoints on its connection.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
const db = new DatabaseSync(workerData.path);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort.on('message', (m) => {
  if (m === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const r = checkpoint.get();
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String((e && e.message) || e) });
  }
});
`;

export interface CheckpointerEvents {
  /** The worker cannot checkpoint: the store went back to automatic checkpoints on its own connection. */
  onFallback?(reason: string): void;
}

export class Checkpointer {
  readonly #path: string;
  readonly #everyRows: number;
  readonly #fallback: (reason: string) => void;
  #worker: Worker | undefined;
  #rows = 0;
  #running = false;
  #failed = false;
  #closed = false;

  /** `fallback` turns SQLite's automatic checkpoints back on for the store's connection. */
  constructor(path: string, everyRows: number, fallback: (reason: string) => void) {
    this.#path = path;
    this.#everyRows = everyRows;
    this.#fallback = fallback;
  }

  /** Rows just committed: a checkpoint is requested once enough have been written since the last one. */
  written(rows: number): void {
    this.#rows += rows;
    if (this.#rows >= this.#everyRows && !this.#running && !this.#failed && !this.#closed) this.#run();
  }

  #run(): void {
    this.#rows = 0;
    this.#running = true;
    try {
      this.#worker ??= this.#start();
      this.#worker.postMessage('run');
    } catch (err) {
      this.#fail(`cannot start the checkpoint worker: ${(err as Error).message}`);
    }
  }

  #start(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: this.#path } });
    w.unref();
    w.on('message', (m: { ok: boolean; error?: string }) => {
      this.#running = false;
      if (!m.ok) return this.#fail(`checkpoint failed: ${m.error}`);
      if (this.#rows >= this.#everyRows && !this.#closed) this.#run();
    });
    w.on('error', (err) => this.#fail(`checkpoint worker failed: ${err.message}`));
    w.on('exit', () => {
      if (!this.#closed) this.#fail('checkpoint worker exited');
    });
    return w;
  }

  #fail(reason: string): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#running = false;
    void this.#worker?.terminate();
    this.#worker = undefined;
    this.#fallback(reason);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    if (w) await closeWorker(w);
  }
}

/**
 * Asks a store worker (checkpoint or writer) to close its connection and waits until it exited; terminated after 2 s.
 * Held until it exits: the worker is unref'd while idle, and with nothing else left (a graceful stop) the process
 * ended before this promise settled ("unsettled top-level await", exit code 13) and the connection was never closed.
 */
export function closeWorker(w: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    w.once('exit', () => resolve());
    w.ref();
    w.postMessage('close');
    setTimeout(() => void w.terminate(), 2000).unref();
  });
}
