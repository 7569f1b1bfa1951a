/**
 * WAL checkpoints of the standalone store on a worker thread (ADR 0021).
 *
 * In WAL mode with `synchronous = NORMAL` a commit appends to the WAL and does not fsync; the fsync happens when
 * the WAL is copied back into the database file (a checkpoint). SQLite runs that checkpoint inside whichever commit
 * crosses `wal_autocheckpoint` pages, i.e. on the event loop, which then waits for the disk: under ingest load most
 * of the store's wall time was this wait (issue #18). Here the store's own connection runs with automatic
 * checkpoints off, and a worker thread with its own connection runs `PRAGMA wal_checkpoint(PASSIVE)` after every
 * `everyRows` rows written (PASSIVE never blocks the writer).
 *
 * The WAL starts again from its beginning only at a commit that finds every frame already checkpointed. Under steady
 * load that never happened: rows were committed while each checkpoint ran, and the WAL grew for as long as the load
 * lasted (844 MB after 10 s at 9,000 alerts/s, every commit extending the file). So when rows were committed during
 * a checkpoint of a WAL past TAIL_MIN_FRAMES, one more pass runs at once (it copies and syncs what came during the
 * long one), and then the tail pass, with no commit between it and the next: on the store's writer thread, between
 * two of its transactions (its connection checkpoints; the batches sent meanwhile wait in its queue); without the
 * writer thread, here, with the store's commits held (writes wait, nothing is refused). The next commit restarts
 * the WAL, overwriting blocks the file already has (ADR 0036). Either way the wait is bounded by TAIL_MAX_MS
 * whatever the other thread does.
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

/** The store's commits, held while the tail of the WAL is checkpointed. */
export interface HeldWrites {
  /** Start no new commit; resolves once none is in flight. */
  hold(): Promise<void>;
  /** Commits may go on (and what queued meanwhile is committed). */
  release(): void;
  /**
   * Checkpoints the tail on the connection that commits, between two of its transactions, instead of a hold (the
   * store's writer thread); undefined when it cannot (the hold is used).
   */
  checkpointTail?(): Promise<{ log?: number; checkpointed?: number; error?: { message: string } }> | undefined;
}

/** WAL frames (4 KiB pages: 64 MiB, the WAL_SIZE_LIMIT it is cut back to) past which a checkpoint that rows were
 * committed during is followed by the tail pass. */
export const TAIL_MIN_FRAMES = 16_384;
/** Passes without holding before the held one: each copies (and syncs) what came during the one before. */
const CHASE_PASSES = 1;
/** Longest wait for a tail pass (the writer's answer, or the hold of the store's commits), whatever the other thread does. */
export const TAIL_MAX_MS = 1000;

/** What a checkpoint reported: frames in the WAL and frames copied to the database (PRAGMA wal_checkpoint). */
export interface CheckpointResult {
  log: number;
  checkpointed: number;
  /** A tail pass: no commit overlapped it (on the writer's connection, or with the store's commits held). */
  tail: boolean;
}

export class Checkpointer {
  readonly #path: string;
  readonly #everyRows: number;
  readonly #fallback: (reason: string) => void;
  #worker: Worker | undefined;
  readonly #writes: HeldWrites | undefined;
  readonly #tailMinFrames: number;
  readonly #onResult: ((r: CheckpointResult) => void) | undefined;
  #rows = 0;
  #running = false;
  #failed = false;
  #closed = false;
  /** The pass in flight runs with the store's commits held; its release, once (also the TAIL_MAX_MS timer's). */
  #release: (() => void) | undefined;
  /** The pass in flight is a tail pass (its answer is not followed by another). */
  #tailPass = false;
  /** Passes run without holding since the WAL passed TAIL_MIN_FRAMES (CHASE_PASSES, then the held one). */
  #chased = 0;

  constructor(
    path: string,
    opts: {
      /** Rows written between two checkpoints. */
      everyRows: number;
      /** Turns SQLite's automatic checkpoints back on for the store's connections (the worker cannot run). */
      fallback: (reason: string) => void;
      /**
       * The store's commits: with them, a checkpoint of a WAL past `tailMinFrames` that rows were committed during
       * is followed by a chase pass and the tail pass (the WAL then restarts).
       */
      writes?: HeldWrites | undefined;
      /** Each checkpoint's result (metrics). */
      onResult?: ((r: CheckpointResult) => void) | undefined;
      /** Default TAIL_MIN_FRAMES (tests set a small one). */
      tailMinFrames?: number | undefined;
    },
  ) {
    this.#path = path;
    this.#everyRows = opts.everyRows;
    this.#fallback = opts.fallback;
    this.#writes = opts.writes;
    this.#onResult = opts.onResult;
    this.#tailMinFrames = opts.tailMinFrames ?? TAIL_MIN_FRAMES;
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
    w.on('message', (m: { ok: boolean; error?: string; log?: number; checkpointed?: number }) => {
      this.#running = false;
      const tail = this.#tailPass;
      this.#tailPass = false;
      this.#release?.();
      if (!m.ok) return this.#fail(`checkpoint failed: ${m.error}`);
      const log = m.log ?? -1;
      const checkpointed = m.checkpointed ?? -1;
      this.#onResult?.({ log, checkpointed, tail });
      if (this.#closed) return;
      // Rows committed while the pass ran are frames it did not copy (it copies what the WAL held when it began, and
      // reports that as complete): the next commit would find them and append again.
      // First one more pass without holding (it copies what came during the long first one, and its fsyncs take the
      // bulk of the dirty pages), so the held pass has only milliseconds of frames to copy and sync.
      if (!tail && this.#writes && log >= this.#tailMinFrames && this.#rows > 0) {
        if (this.#chased < CHASE_PASSES) {
          this.#chased++;
          return this.#run();
        }
        this.#chased = 0;
        return void this.#runTail(this.#writes);
      }
      this.#chased = 0;
      if (this.#rows >= this.#everyRows) this.#run();
    });
    w.on('error', (err) => this.#fail(`checkpoint worker failed: ${err.message}`));
    w.on('exit', () => {
      if (!this.#closed) this.#fail('checkpoint worker exited');
    });
    return w;
  }

  /**
   * The tail pass: on the writer's connection between two of its transactions when it can (no hold), else the
   * store's commits held (at most TAIL_MAX_MS), one more checkpoint here, then released.
   */
  async #runTail(writes: HeldWrites): Promise<void> {
    this.#running = true;
    const onWriter = writes.checkpointTail?.();
    if (onWriter) {
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        onWriter,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), TAIL_MAX_MS);
        }),
      ]);
      clearTimeout(timer);
      this.#running = false;
      if (this.#closed || this.#failed) return;
      // A failed or late tail checkpoint on the writer is not this worker's failure: the next pass tries again.
      if (answer && !answer.error)
        this.#onResult?.({ log: answer.log ?? -1, checkpointed: answer.checkpointed ?? -1, tail: true });
      if (this.#rows >= this.#everyRows) this.#run();
      return;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.#release = undefined;
      writes.release();
    };
    const timer = setTimeout(release, TAIL_MAX_MS);
    this.#release = release;
    await writes.hold();
    if (released || this.#closed || this.#failed || !this.#worker) {
      release();
      this.#running = false;
      return;
    }
    this.#tailPass = true;
    this.#worker.postMessage('run');
  }

  #fail(reason: string): void {
    this.#release?.();
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
    this.#release?.();
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
