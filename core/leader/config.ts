/**
 * The elector's configuration, its contract with the host, and the checks createLeaderElector runs on it
 * (client-go `LeaderElectionConfig`, `LeaderCallbacks`, `NewLeaderElector`).
 */

import { errorMessage, ZwError } from '../api/errors.ts';
import type { Clock } from './clock.ts';
import type { LeaderLock, LeaderRecord } from './lock.ts';
import type { LeaderMetrics } from './metrics.ts';

export const LEADER_ELECTION_DEFAULTS = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
});

/** Retry waits in acquire are retryPeriod × (1 + random × JITTER_FACTOR), as client-go's wait.JitterUntil. */
export const JITTER_FACTOR = 1.2;

export interface LeaderTermInfo {
  /** Aborts the moment the term ends (lost renewal or stop), before onStoppedLeading is called. */
  signal: AbortSignal;
  identity: string;
  /** ms since the epoch, elector clock. */
  startedAt: number;
}

export interface LeaderLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
  debug(o: object, m: string): void;
}

export interface LeaderElectorConfig {
  /** LeaseLock in production. Its identity must be unique per replica (the pod name). */
  lock: LeaderLock;
  /** How long a follower waits, from the moment it sees a record change, before it may take over. Default 15 000. */
  leaseDurationMs?: number;
  /** The leader gives up when no renewal succeeded for this long. Default 10 000. */
  renewDeadlineMs?: number;
  /** Between renewals, and (with jitter) between acquire attempts. Default 2 000. */
  retryPeriodMs?: number;
  /** Default systemClock. */
  clock?: Clock;
  /** Release the Lease (holder '', duration 1 s) when run()'s signal aborts, so a follower takes over at once. Default true. */
  releaseOnCancel?: boolean;
  /** Default: no-op. */
  metrics?: LeaderMetrics;
  /** Default: silent. */
  log?: LeaderLog;
  /** For tests: the random source of the acquire jitter. Default Math.random. */
  random?: () => number;
  callbacks: {
    /** A term began. Not awaited; it runs beside the renew loop. Anything it starts must stop when term.signal aborts. */
    onStartedLeading(term: LeaderTermInfo): void | Promise<void>;
    /**
     * A term ended (lost renewal, or stop()); called after term.signal aborted, only on replicas that led. Must
     * resolve within renewDeadline (together with onStartedLeading's promise); if not, run() rejects with
     * ZW_ERR_LEADER_STOP_DEADLINE, does not release the Lease, and the host should exit (DESIGN §7).
     */
    onStoppedLeading(reason: string): void | Promise<void>;
    /** The Lease's holder changed to a non-empty identity (including the first one observed, and ourselves). */
    onNewLeader?(identity: string): void;
  };
}

export interface LeaderElector {
  /**
   * Loops acquire → renew until lost → acquire again, until `signal` aborts; then ends the term, releases the
   * Lease if it led (and releaseOnCancel) and resolves. Rejects only if a term did not end within renewDeadline.
   */
  run(signal: AbortSignal): Promise<void>;
  /** True while a term is active (between onStartedLeading and the abort of its signal). */
  isLeader(): boolean;
  /**
   * Try to acquire now instead of after the rest of the jittered retry wait. The host calls it when a watch on
   * the Lease sees it released, so a graceful handover takes milliseconds. Safe at any time: an attempt still
   * follows every rule of tryAcquireOrRenew.
   */
  nudge(): void;
  /**
   * Feed a Lease record seen by a watch (with `raw` from the lock's rawRecord). A follower then times the lease
   * from when the change reached it instead of from its next poll, and its next attempt is scheduled at the
   * lease's expiry, so a crashed leader is replaced within leaseDuration of its last renewal (client-go's poll
   * alone adds up to 2 × 2.2 × retryPeriod). Ignored while leading and for records older than the last observed.
   */
  observe(record: LeaderRecord, raw: string): void;
  /**
   * True only if this replica leads AND its last successful renewal (local clock) is younger than renewDeadline.
   * Every leader-only write must check this first: a leader that was paused (SIGSTOP, GC, frozen VM) and resumes
   * with stale leadership writes nothing, even before its renew loop notices the loss.
   */
  canActAsLeader(): boolean;
  /** Start time (elector clock) of the last successful acquire or renewal; undefined if none yet. */
  lastRenewAt(): number | undefined;
  /** The holder as last observed in the Lease; undefined if none or released. */
  leaderIdentity(): string | undefined;
  /** Fails when the Lease says we hold it but we have not renewed for leaseDuration + toleranceMs (default 0). */
  healthy(toleranceMs?: number): { ok: boolean; reason?: string };
}

/** A config the elector refuses to run with. `field` names the offending setting. */
export class LeaderConfigError extends ZwError {
  declare readonly field: string;
  constructor(field: string, message: string) {
    super('ZW_ERR_LEADER_CONFIG', errorMessage('ZW_ERR_LEADER_CONFIG', { detail: message }), { field });
    this.name = 'LeaderConfigError';
  }
}

/** A term did not end (onStoppedLeading / onStartedLeading did not settle) within renewDeadline. */
export class LeaderStopDeadlineError extends ZwError {
  constructor(message: string) {
    super('ZW_ERR_LEADER_STOP_DEADLINE', message);
    this.name = 'LeaderStopDeadlineError';
  }
}

export const silentLog: LeaderLog = { info() {}, warn() {}, error() {}, debug() {} };

export type Timings = Required<Pick<LeaderElectorConfig, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>>;

export function validate(c: LeaderElectorConfig & Timings): void {
  const num = (field: keyof LeaderElectorConfig, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new LeaderConfigError(field, `${field} must be a positive number of milliseconds (got ${String(v)})`);
  };
  if (!c.lock) throw new LeaderConfigError('lock', 'lock is required');
  if (!c.lock.identity) throw new LeaderConfigError('lock.identity', 'lock.identity is empty');
  num('leaseDurationMs', c.leaseDurationMs);
  num('renewDeadlineMs', c.renewDeadlineMs);
  num('retryPeriodMs', c.retryPeriodMs);
  if (c.leaseDurationMs < 1000)
    throw new LeaderConfigError('leaseDurationMs', 'leaseDurationMs must be at least 1000 (the Lease stores seconds)');
  if (c.leaseDurationMs <= c.renewDeadlineMs)
    throw new LeaderConfigError('leaseDurationMs', 'leaseDurationMs must be greater than renewDeadlineMs');
  if (c.renewDeadlineMs <= JITTER_FACTOR * c.retryPeriodMs)
    throw new LeaderConfigError(
      'renewDeadlineMs',
      `renewDeadlineMs must be greater than ${JITTER_FACTOR} × retryPeriodMs`,
    );
  if (typeof c.callbacks?.onStartedLeading !== 'function')
    throw new LeaderConfigError('callbacks.onStartedLeading', 'callbacks.onStartedLeading is required');
  if (typeof c.callbacks.onStoppedLeading !== 'function')
    throw new LeaderConfigError('callbacks.onStoppedLeading', 'callbacks.onStoppedLeading is required');
}
