import { type Observation, ZwError } from '../api/index.ts';
import type { OccurrenceDelta } from '../pipeline/occurrences.ts';

/**
 * Where Observations go. `write` is idempotent by name: a name that already exists is a duplicate, not an error.
 * `previous` carries the name the same finding had in the previous dedup window bucket: if that one exists and
 * was created after `notBefore` (ms), the write is a duplicate too. That makes windows slide across bucket edges.
 */
export interface ObservationSink {
  readonly kind: 'sqlite' | 'kubernetes';
  write(
    obs: Observation,
    previous?: { name: string; notBefore: number },
    options?: WriteOptions,
  ): Promise<'created' | 'duplicate'>;
  /**
   * Adds a delta of repeats to the stored Observation's status.count / firstSeen / lastSeen without losing another
   * writer's increments (read, then a conditional write). 'gone' when the Observation no longer exists.
   */
  addOccurrences?(d: OccurrenceDelta, signal?: AbortSignal): Promise<'applied' | 'gone'>;
  /** Usable for writes now (readiness). */
  ready(): boolean;
  /** Why not ready, for `/readyz` (optional). */
  notReadyReason?(): string | undefined;
  /**
   * A sink that keeps Observations itself (standalone's store) expires them here: deletes up to `limit` whose TTL
   * passed, returns how many. Absent when something else expires them (kubernetes mode: the leader's GC).
   */
  deleteExpired?(now: number, limit: number): number;
  close(): Promise<void>;
}

export interface WriteOptions {
  /** Informer (leader-only) work: refuse the write unless this replica may still act as leader. */
  leaderOnly?: boolean;
  /** Where to write when the Observation's namespace is missing or forbidden (the Ingester's namespace). */
  fallbackNamespace?: string;
  /**
   * Called with where the finding is stored once the write succeeded or found it there: the namespace written to
   * (the fallback one, if used) and the name (the previous bucket's, when that one made this a duplicate).
   */
  onStored?: (at: { namespace: string; name: string }) => void;
  /** Called before each retry with the reason, for metrics. */
  onRetry?: (reason: string) => void;
}

/**
 * A write that did not store the Observation (ZW_ERR_SINK_WRITE). `reason` is the metric label;
 * `retryAfterSeconds` is what a webhook sender is told (503 + Retry-After): the event is not stored, and a later
 * retry may succeed.
 */
export class SinkWriteError extends ZwError {
  readonly retryable: boolean;
  readonly reason: string;
  constructor(
    message: string,
    opts: { retryable: boolean; reason: string; cause?: unknown; retryAfterSeconds?: number },
  ) {
    super('ZW_ERR_SINK_WRITE', message, {
      cause: opts.cause,
      ...(opts.retryAfterSeconds !== undefined ? { retryAfterSeconds: opts.retryAfterSeconds } : {}),
    });
    this.name = 'SinkWriteError';
    this.retryable = opts.retryable;
    this.reason = opts.reason;
  }
}
