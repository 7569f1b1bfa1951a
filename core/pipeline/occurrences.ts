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

/** Where the event time of the content an Observation shows is kept (updates in place of webhook findings). */
export const CONTENT_AT_ANNOTATION = 'zen.kube-zen.io/content-at';
const CONTENT_HASH = 'zen.kube-zen.io/content-hash';
/** status.reason when a webhook source said the finding is over, and when it reported it again. */
export const REASON_SOURCE_RESOLVED = 'the source reported this finding resolved';
export const REASON_SOURCE_REOPENED = 'the source reports this finding again';

/** What a source reported about a finding (its mutable fields), with the report's event time. */
export interface ReportedContent {
  /** The content hash (`zen.kube-zen.io/content-hash`) of these fields. */
  hash: string;
  /** Event time (ms) of the report. */
  at: number;
  severity: string;
  category: string;
  eventType: string;
  title: string;
  message?: string;
  details?: Record<string, unknown>;
}

export interface OccurrenceDelta {
  namespace: string;
  name: string;
  /** Repeats seen by this replica since its last successful flush for this Observation (0: none). */
  count: number;
  /** Earliest and latest event time (ms) among them. */
  firstSeen: number;
  lastSeen: number;
  /**
   * The latest content reported among them (by event time; the larger hash at the same time), when it may differ
   * from the stored one: an update in place, applied only if newer than what the Observation shows.
   */
  content?: ReportedContent;
  /** The source said the finding is over at this event time (ms): resolve, unless reported again after it. */
  resolvedAt?: number;
}

/** The later of two reports of content: by event time, then by hash (so every replica picks the same one). */
export function laterContent(a: ReportedContent | undefined, b: ReportedContent | undefined) {
  if (!a) return b;
  if (!b) return a;
  return b.at > a.at || (b.at === a.at && b.hash > a.hash) ? b : a;
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

  /**
   * One more sighting of the Observation `namespace/name` at event time `at` (ms), with what the source reported
   * about it when that may have changed (webhook updates in place).
   */
  note(namespace: string, name: string, at: number, content?: ReportedContent): void {
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
      const c = laterContent(d.content, content);
      if (c) d.content = c;
      return;
    }
    if (this.#pending.size >= this.#maxKeys) {
      this.#events.lost('overflow', 1);
      return;
    }
    this.#pending.set(key, { namespace, name, count: 1, firstSeen: at, lastSeen: at, ...(content ? { content } : {}) });
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
      const c = laterContent(cur.content, d.content);
      if (c) cur.content = c;
    }
  }
}

interface StoredState {
  metadata?: { annotations?: Record<string, string> };
  spec?: { detectedAt?: string };
  status?: {
    count?: number;
    firstSeen?: string;
    lastSeen?: string;
    phase?: string;
    resolvedAt?: string;
    reason?: string;
  };
}

export interface MergedStatus {
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** Set only when the delta moves the phase (resolution by the source, or a report after it). */
  phase?: 'Active' | 'Resolved';
  /** null: remove (re-opened). */
  resolvedAt?: string | null;
  reason?: string;
}

/**
 * The status after adding a delta to what is stored (absent count = seen once, absent times = spec.detectedAt).
 * The phase is a function of event times only — Resolved when the latest resolution is at or after the latest
 * sighting — so deltas applied in any order, by any replica, converge on the same phase (no flapping).
 */
export function mergeOccurrences(cur: StoredState, d: OccurrenceDelta): MergedStatus {
  const stored = Number.isInteger(cur.status?.count) ? (cur.status?.count as number) : 1;
  const detected = Date.parse(cur.spec?.detectedAt ?? '');
  const first = Date.parse(cur.status?.firstSeen ?? '') || detected;
  const last = Date.parse(cur.status?.lastSeen ?? '') || detected;
  const repeats = d.count > 0;
  const firstSeen = repeats ? (Number.isFinite(first) ? Math.min(first, d.firstSeen) : d.firstSeen) : first;
  const lastSeen = repeats ? (Number.isFinite(last) ? Math.max(last, d.lastSeen) : d.lastSeen) : last;
  const iso = (t: number, fallback: number) => new Date(Number.isFinite(t) ? t : fallback).toISOString();
  const out: MergedStatus = {
    count: stored + d.count,
    firstSeen: iso(firstSeen, d.firstSeen),
    lastSeen: iso(lastSeen, d.lastSeen),
  };
  const resolved = cur.status?.phase === 'Resolved';
  const resolvedAt = resolved ? Date.parse(cur.status?.resolvedAt ?? '') : Number.NaN;
  if (d.resolvedAt !== undefined) {
    const end = Number.isFinite(resolvedAt) ? Math.max(resolvedAt, d.resolvedAt) : d.resolvedAt;
    // Reported again after this end (a firing that overtook a late resolution): stays Active.
    if (!Number.isFinite(lastSeen) || end >= lastSeen) {
      out.phase = 'Resolved';
      out.resolvedAt = new Date(end).toISOString();
      out.reason = REASON_SOURCE_RESOLVED;
    }
  } else if (repeats && resolved && Number.isFinite(resolvedAt) && lastSeen > resolvedAt) {
    out.phase = 'Active';
    out.resolvedAt = null;
    out.reason = REASON_SOURCE_REOPENED;
  }
  return out;
}

/**
 * The content to write in place, or undefined: only when it differs from what the Observation shows and is a later
 * report (event time, then hash) than the one it shows (`zen.kube-zen.io/content-at`, else spec.detectedAt).
 */
export function contentToApply(cur: StoredState, c: ReportedContent | undefined): ReportedContent | undefined {
  if (!c) return undefined;
  const hash = cur.metadata?.annotations?.[CONTENT_HASH];
  if (hash === c.hash) return undefined;
  const at = Date.parse(cur.metadata?.annotations?.[CONTENT_AT_ANNOTATION] ?? cur.spec?.detectedAt ?? '');
  if (!Number.isFinite(at)) return c;
  return c.at > at || (c.at === at && c.hash > (hash ?? '')) ? c : undefined;
}

/** The spec fields an update in place replaces (the rest of spec is identity or set once). */
export const MUTABLE_SPEC_FIELDS = ['severity', 'category', 'eventType', 'title', 'message', 'details'] as const;
