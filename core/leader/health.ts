/**
 * Liveness of the elector (client-go `healthzadaptor.go` / LeaderElector.Check). /healthz fails when the Lease
 * names this replica but it has not renewed for leaseDuration + tolerance: the renew loop is wedged, so let the
 * kubelet restart the process. A follower is always healthy; readiness never depends on leadership.
 */
export interface LeaderHealthInput {
  /** The Lease, as last observed, names this replica. */
  holdsLease: boolean;
  lastRenewAt: number | undefined;
  now: number;
  leaseDurationMs: number;
  toleranceMs: number;
  lease: string;
}

export function leaderHealth(s: LeaderHealthInput): { ok: boolean; reason?: string } {
  if (!s.holdsLease || s.lastRenewAt === undefined) return { ok: true };
  const age = s.now - s.lastRenewAt;
  if (age > s.leaseDurationMs + s.toleranceMs) {
    return {
      ok: false,
      reason: `failed to renew leadership on lease ${s.lease} for ${Math.round(age)} ms (limit ${s.leaseDurationMs + s.toleranceMs} ms)`,
    };
  }
  return { ok: true };
}
