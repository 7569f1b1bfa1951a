/**
 * What the elector reports, without knowing about Prometheus (client-go `metrics.go`). The host adapts this to
 * `zen_watcher_leader_election_*` in core/telemetry; `lease` is the lock's `describe()` ("namespace/name").
 */
export interface LeaderMetrics {
  /** This replica started a leadership term (is_leader = 1). */
  leaderOn(lease: string): void;
  /** This replica's term ended (is_leader = 0). */
  leaderOff(lease: string): void;
  /** This replica took the lease from another holder or from an empty one (leaseTransitions was incremented). */
  transition(lease: string): void;
  /** Duration of one successful renewal attempt, seconds. */
  renewLatency(lease: string, seconds: number): void;
  /** The leader had to read the Lease before renewing (its optimistic update failed). */
  slowPath(lease: string): void;
  /**
   * This replica took the lease over: seconds from the previous holder's last write as seen here (its last
   * renewal, or its release) to this term's start — the time without a working leader. `previous`: `released`
   * (graceful handover) or `expired` (the holder stopped renewing: crash, pause, partition).
   */
  failover?(lease: string, seconds: number, previous: 'released' | 'expired'): void;
}

export const noLeaderMetrics: LeaderMetrics = Object.freeze({
  leaderOn() {},
  leaderOff() {},
  transition() {},
  renewLatency() {},
  slowPath() {},
});
