/**
 * Occurrence counts (issue #15): every repeat of a finding that dedup folds into an existing Observation adds one
 * to that Observation's `status.count` and moves `status.lastSeen` (and `firstSeen` back, for a late event).
 *
 * Repeats are coalesced per Observation in this replica's memory and applied at most once per interval
 * (ZEN_OCCURRENCE_FLUSH_SECONDS) as a delta: the sink reads the current count and writes count + delta with a
 * resourceVersion precondition (Kubernetes) or inside one SQLite statement (standalone), so replicas adding at the
 * same time never lose each other's increments. A delta whose write failed stays pending and is retried on the next
 * flush; a graceful shutdown flushes what is pending. What can be lost: the deltas of the last interval of a
 * process that is killed (SIGKILL, OOM), and deltas for an Observation that no longer exists (GC'd or deleted);
 * both are counted in `zen_watcher_occurrence_writes_total{outcome="lost"|"gone"}`.
 *
 * The creating write counts as the first occurrence: an Observation without `status.count` has been seen once.
 */
import { ZwError } from '../api/index.ts';

export interface OccurrenceDelta {
  namespace: string;
  name: string;
  /** Repeats seen by this replica since its last successful flush for this Observation. */
  count: number;
  /** Earliest and latest event time (ms) among them. */
  firstSeen: number;
  lastSeen: number;
}

/** Applies a delta to the stored Observation: 'gone' when it no longer exists. Throws to retry on the next flush. */
export type ApplyOccurrences = (d: OccurrenceDelta, signal?: AbortSignal) => Promise<'applied' | 'gone'>;

export interface OccurrenceEvents {
  /** One per flushed Observation: applied, gone (no such Observation any more), error (kept for the next flush). */
  flushed(outcome: 'applied' | 'gone' | 'error', repeats: number, err?: unknown): void;
  /**
   * Repeats not added: overflow (too many Observations have pending deltas: memory bound), gone (the Observation
   * no longer exists), shutdown (still pending when close() gave up).
   */
  lost(reason: 'overflow' | 'gone' | 'shutdown', repeats: number): void;
  pending(keys: number): void;
}

export class OccurrenceCoalescer {
  readonly #apply: ApplyOccurrences;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #events: OccurrenceEvents;
  readonly #concurrency: number;
  #pending = new Map<string, OccurrenceDelta>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(o: {
    apply: ApplyOccurrences;
    intervalMs: number;
    maxKeys: number;
    events: OccurrenceEvents;
    /** Observations flushed at the same time (default 4). */
    concurrency?: number;
  }) {
    if (!(o.intervalMs > 0)) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'occurrence flush interval must be positive');
    this.#apply = o.apply;
    this.#intervalMs = o.intervalMs;
    this.#maxKeys = o.maxKeys;
    this.#events = o.events;
    this.#concurrency = o.concurrency ?? 4;
  }

  /** One more sighting of the Observation `namespace/name` at event time `at` (ms). */
  note(namespace: string, name: string, at: number): void {
    if (this.#closed) {
      this.#events.lost('shutdown', 1);
      return;
    }
    const key = `${namespace}/${name}`;
    const d = this.#pending.get(key);
    if (d) {
      d.count++;
      if (at < d.firstSeen) d.firstSeen = at;
      if (at > d.lastSeen) d.lastSeen = at;
      return;
    }
    if (this.#pending.size >= this.#maxKeys) {
      this.#events.lost('overflow', 1);
      return;
    }
    this.#pending.set(key, { namespace, name, count: 1, firstSeen: at, lastSeen: at });
    this.#events.pending(this.#pending.size);
    this.#schedule();
  }

  get pendingKeys(): number {
    return this.#pending.size;
  }

  /** Writes every pending delta now (waits for a flush under way first). */
  async flush(signal?: AbortSignal): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#pending.size === 0) return;
    this.#flushing = this.#flushOnce(signal).finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /** Final flush (shutdown); afterwards repeats are not recorded. */
  async close(signal?: AbortSignal): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush(signal);
    this.#closed = true;
    if (this.#pending.size > 0) {
      const lost = [...this.#pending.values()].reduce((n, d) => n + d.count, 0);
      this.#events.lost('shutdown', lost);
      this.#pending.clear();
      this.#events.pending(0);
    }
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().finally(() => {
        if (this.#pending.size > 0) this.#schedule();
      });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async #flushOnce(signal?: AbortSignal): Promise<void> {
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    let next = 0;
    const worker = async () => {
      while (next < batch.length) {
        const d = batch[next++]!;
        if (signal?.aborted) {
          this.#restore(d);
          continue;
        }
        try {
          const outcome = await this.#apply(d, signal);
          this.#events.flushed(outcome, d.count);
          if (outcome === 'gone') this.#events.lost('gone', d.count);
        } catch (err) {
          this.#restore(d);
          this.#events.flushed('error', d.count, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, batch.length) }, worker));
    this.#events.pending(this.#pending.size);
  }

  /** A delta that was not written goes back, merged with what arrived meanwhile. */
  #restore(d: OccurrenceDelta): void {
    const key = `${d.namespace}/${d.name}`;
    const cur = this.#pending.get(key);
    if (!cur) this.#pending.set(key, { ...d });
    else {
      cur.count += d.count;
      cur.firstSeen = Math.min(cur.firstSeen, d.firstSeen);
      cur.lastSeen = Math.max(cur.lastSeen, d.lastSeen);
    }
  }
}

/** The status after adding a delta to what is stored (absent count = seen once, absent times = spec.detectedAt). */
export function mergeOccurrences(
  cur: { spec?: { detectedAt?: string }; status?: { count?: number; firstSeen?: string; lastSeen?: string } },
  d: OccurrenceDelta,
): { count: number; firstSeen: string; lastSeen: string } {
  const count = (Number.isInteger(cur.status?.count) ? (cur.status?.count as number) : 1) + d.count;
  const detected = Date.parse(cur.spec?.detectedAt ?? '');
  const first = Date.parse(cur.status?.firstSeen ?? '') || detected;
  const last = Date.parse(cur.status?.lastSeen ?? '') || detected;
  return {
    count,
    firstSeen: new Date(Number.isFinite(first) ? Math.min(first, d.firstSeen) : d.firstSeen).toISOString(),
    lastSeen: new Date(Number.isFinite(last) ? Math.max(last, d.lastSeen) : d.lastSeen).toISOString(),
  };
}
