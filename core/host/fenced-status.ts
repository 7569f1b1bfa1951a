/**
 * Leader-only status writes of Observations, fenced by the API server (ADR 0022).
 *
 * Every write carries the resourceVersion this replica read while it was allowed to act (leader term or shard
 * slot: whatever guard the caller passes as `canAct`), as a precondition the API server enforces: a merge patch
 * with `metadata.resourceVersion` is refused with 409 when the object changed since that read. So a write that
 * arrives late — sent by a replica whose term ended while it was paused, cut off or slow — lands only on the exact
 * state it was decided on; it can never overwrite what anybody (a newer leader above all) wrote in between.
 *
 * On a 409 the object is read again and, only while `canAct()` still holds, the decision is taken again on what
 * was read (`decide`): the same write with the new resourceVersion, nothing (the reason for it is gone), or done.
 * A replica that may no longer act stops there: its write is fenced.
 */
import type { KubeApi } from '../kube/api.ts';

export interface ObservationState {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  status?: { phase?: string; missingSince?: string; resolvedAt?: string; reason?: string };
}

/** A status merge patch to send, or undefined when there is nothing (left) to write. */
export type StatusDecision = (cur: ObservationState) => Record<string, unknown> | undefined;

export interface FencedWrite {
  outcome: 'written' | 'unchanged' | 'fenced' | 'gone';
  /** The object after the write (written), or as last read. */
  state?: ObservationState;
}

export interface FencedStatusDeps {
  api: KubeApi;
  canAct: () => boolean;
  /** A write the API server refused because the object changed since it was read (a resourceVersion precondition). */
  onPreconditionFailed?: () => void;
  signal?: AbortSignal;
}

// Not imported from the kube sink: the test kit uses `decisions` and must not pull in the Kubernetes client.
const gvr = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' } as const;
const codeOf = (err: unknown) => (err as { code?: number }).code;

/**
 * Writes `decide(state)` to the status of `target` with `target.resourceVersion` as the precondition (read first
 * when unknown). `known` is the state the caller decided on (its cache or list, read in the current term).
 */
export async function fencedStatusPatch(
  deps: FencedStatusDeps,
  target: { namespace: string; name: string; resourceVersion?: string | undefined },
  known: ObservationState | undefined,
  decide: StatusDecision,
): Promise<FencedWrite> {
  const { api, canAct, signal } = deps;
  let cur = known?.metadata.resourceVersion ? known : undefined;
  for (let attempt = 1; attempt <= 10; attempt++) {
    if (!canAct()) return { outcome: 'fenced', ...(cur ? { state: cur } : {}) };
    if (!cur) {
      try {
        cur = await api.get<ObservationState>({ ...gvr, ...target, ...(signal ? { signal } : {}) });
      } catch (err) {
        if (codeOf(err) === 404) return { outcome: 'gone' };
        throw err;
      }
      if (!canAct()) return { outcome: 'fenced', state: cur };
    }
    const patch = decide(cur);
    if (!patch) return { outcome: 'unchanged', state: cur };
    try {
      const state = await api.patch<ObservationState>({
        ...gvr,
        namespace: target.namespace,
        name: target.name,
        subresource: 'status',
        type: 'merge',
        body: { metadata: { resourceVersion: cur.metadata.resourceVersion }, status: patch },
        ...(signal ? { signal } : {}),
      });
      return { outcome: 'written', state };
    } catch (err) {
      const code = codeOf(err);
      if (code === 404) return { outcome: 'gone' };
      if (code !== 409) throw err;
      deps.onPreconditionFailed?.();
      cur = undefined; // changed since read: read again, decide again (while this replica may still act)
    }
  }
  return { outcome: 'unchanged', ...(cur ? { state: cur } : {}) };
}

const msOf = (iso: string | undefined) => {
  const t = Date.parse(iso ?? '');
  return Number.isFinite(t) ? t : undefined;
};

/** The missing-since time (ms) an Observation carries, if any. */
export function missingSinceOf(state: ObservationState): number | undefined {
  return msOf(state.status?.missingSince);
}

/**
 * The resolver's status writes as decisions on the Observation read: a resolution only while the finding is Active
 * and its clock is still the one it was decided on (`missingSince`, when known); a reactivation only while it is
 * Resolved or has a clock; a clock only where none runs (a clock persisted by another leader is kept).
 */
export const decisions = {
  phase(
    phase: 'Active' | 'Resolved',
    reason: string,
    decidedOn: { missingSince?: number | undefined },
    now: () => number,
  ): StatusDecision {
    return (cur) => {
      const clock = missingSinceOf(cur);
      if (phase === 'Resolved') {
        if (cur.status?.phase === 'Resolved') return undefined;
        if (decidedOn.missingSince !== undefined && clock !== decidedOn.missingSince) return undefined;
        return { phase, resolvedAt: new Date(now()).toISOString(), reason, missingSince: null };
      }
      if (cur.status?.phase !== 'Resolved' && clock === undefined) return undefined;
      return { phase, resolvedAt: null, reason, missingSince: null };
    };
  },
  missing(since: number | undefined): StatusDecision {
    return (cur) => {
      const clock = missingSinceOf(cur);
      if (since === undefined) return clock === undefined ? undefined : { missingSince: null };
      if (clock !== undefined || cur.status?.phase === 'Resolved') return undefined;
      return { missingSince: new Date(since).toISOString() };
    };
  },
};
