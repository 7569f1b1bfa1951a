/**
 * Resolution of informer findings (issue: Trivy/Kyverno "when a finding disappears, its Observation is resolved").
 *
 * Semantics (docs/adr/0009): a finding that is no longer reported is not deleted; its Observation gets
 * `status.phase: Resolved` (+ resolvedAt, reason) once it has been missing for a grace period. The grace period
 * absorbs report churn: Trivy re-creates reports on every scan, so a report deleted and re-created with the same
 * findings writes nothing. A resolved finding that comes back is set Active again (same deterministic name).
 *
 * The Resolver is the entry point of `api.reconcile` / `api.reconcileScopes`: for one scope (one report's
 * findings), it writes the findings reported (pipeline), updates in place those whose content changed, and hands
 * the scope's Observations with the set still reported to the clocks (missing-clocks.ts: missing since when,
 * persisted as `status.missingSince`, resolved after the grace period, reactivated; ADR 0022). Where the
 * Observations are read and written is the index contract (observation-index.ts); scopes are found again after a
 * failover through labels on the Observations (`zen.kube-zen.io/ingester`, `…/ingester-namespace`, `…/scope`), so
 * no state is needed beyond the cluster's. Sharded (ADR 0020), it looks only at Observations of units the current
 * run owns (`mine`).
 */
import type { Observation, ObservationDraft, ReconcileResult } from '../api/index.ts';
import { CONTENT_HASH_ANNOTATION, type CompiledIngester, type Pipeline } from '../pipeline/pipeline.ts';
import { shardWork } from '../shard/context.ts';
import { MissingClocks } from './missing-clocks.ts';
import { type IndexedObservation, type ObservationIndex, SCOPE_LABEL, scopeLabel } from './observation-index.ts';

export class Resolver {
  readonly #pipeline: Pipeline;
  readonly #index: ObservationIndex;
  readonly #canAct: () => boolean;
  readonly #clocks: MissingClocks;
  readonly #onPhase: (transition: 'resolved' | 'reactivated', n: number) => void;
  readonly #onUpdated: (source: string, n: number) => void;

  constructor(o: {
    pipeline: Pipeline;
    index: ObservationIndex;
    graceMs: number;
    now?: () => number;
    canAct: () => boolean;
    /** Metrics hook: Observations moved to Resolved, or back to Active. */
    onPhase?: (transition: 'resolved' | 'reactivated', n: number) => void;
    /** Metrics hook: Observations updated in place. */
    onUpdated?: (source: string, n: number) => void;
  }) {
    this.#onPhase = o.onPhase ?? (() => {});
    this.#onUpdated = o.onUpdated ?? (() => {});
    this.#pipeline = o.pipeline;
    this.#index = o.index;
    this.#canAct = o.canAct;
    this.#clocks = new MissingClocks({
      index: o.index,
      graceMs: o.graceMs,
      now: o.now ?? Date.now,
      canAct: o.canAct,
    });
  }

  async reconcile(
    ci: CompiledIngester,
    scope: string,
    drafts: readonly ObservationDraft[],
    signal?: AbortSignal,
  ): Promise<ReconcileResult> {
    const label = scopeLabel(scope);
    const labeled = drafts.map((d) => ({ ...d, labels: { ...d.labels, [SCOPE_LABEL]: label } }));
    const existing = mine(await this.#index.list(ci.config, label, signal));
    const byName = new Map(existing.map((e) => [`${e.namespace}/${e.name}`, e]));
    const wanted = new Set<string>();
    const changed: { e: IndexedObservation; obs: Observation }[] = [];
    for (const d of labeled) {
      const p = await this.#pipeline.preview(ci, d);
      if (!p) continue;
      const key = `${p.namespace}/${p.name}`;
      wanted.add(key);
      const e = byName.get(key);
      // Gone from the cluster (GC, deleted by hand) while the finding persists: let the pipeline write it again.
      if (!e) this.#pipeline.forget(p.dedupKey);
      // Same identity, other content (Trivy re-scored a CVE, a fix version appeared): update it in place.
      else if (e.contentHash !== p.obs.annotations[CONTENT_HASH_ANNOTATION]) changed.push({ e, obs: p.obs });
    }
    const emitted = await this.#pipeline.process(ci, labeled, 'informer', signal);
    this.#index.noteStored?.(ci.config, label, emitted.stored);
    if (this.#index.updateContent && changed.length > 0) {
      let updated = 0;
      for (const { e, obs } of changed) {
        if (signal?.aborted || !this.#canAct()) break;
        if ((await this.#index.updateContent(e, obs, signal)) === 'updated') updated++;
      }
      if (updated) this.#onUpdated(ci.config.spec.source, updated);
    }
    const settled = await this.#clocks.settle(existing, wanted, signal);
    if (settled.resolved) this.#onPhase('resolved', settled.resolved);
    if (settled.reactivated) this.#onPhase('reactivated', settled.reactivated);
    const { created, duplicates, filtered, dropped } = emitted;
    return { created, duplicates, filtered, dropped, ...settled };
  }

  async reconcileScopes(ci: CompiledIngester, liveScopes: readonly string[], signal?: AbortSignal): Promise<void> {
    const live = new Set(liveScopes.map(scopeLabel));
    const all = mine(await this.#index.list(ci.config, undefined, signal));
    const orphans = all.filter((o) => !live.has(o.scope));
    const settled = await this.#clocks.settle(orphans, new Set(), signal);
    if (settled.resolved) this.#onPhase('resolved', settled.resolved);
  }

  /** Resolves what has been missing longer than the grace period (every resolve tick, resolve-loop.ts). */
  async tick(signal?: AbortSignal): Promise<number> {
    const resolved = await this.#clocks.tick(signal);
    if (resolved) this.#onPhase('resolved', resolved);
    return resolved;
  }

  /** Findings missing and waiting out their grace period. */
  get pending(): number {
    return this.#clocks.pending;
  }
}

/**
 * Sharded (ADR 0020): of the Observations listed, those of units the current run owns — a replica must never
 * resolve another replica's findings because its own informers do not see their reports. Unsharded: all. An
 * Observation of unknown unit is one this run just wrote itself (read-your-writes, kube-index.ts): kept.
 */
function mine(all: IndexedObservation[]): IndexedObservation[] {
  const work = shardWork.getStore();
  if (!work) return all;
  return all.filter((o) => o.resourceNamespace === undefined || work.owns(o.resourceNamespace));
}
