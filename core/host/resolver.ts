/**
 * Resolution of informer findings (issue: Trivy/Kyverno "when a finding disappears, its Observation is resolved").
 *
 * Semantics (docs/adr/0009): a finding that is no longer reported is not deleted; its Observation gets
 * `status.phase: Resolved` (+ resolvedAt, reason) once it has been missing for a grace period. The grace period
 * absorbs report churn: Trivy re-creates reports on every scan, so a report deleted and re-created with the same
 * findings writes nothing. A resolved finding that comes back is set Active again (same deterministic name).
 *
 * Scopes (one report's findings) are found again after a failover through labels on the Observations
 * (`zen.kube-zen.io/ingester`, `…/ingester-namespace`, `…/scope`), so no state is needed beyond the cluster's.
 * Missing-since times are persisted with the Observation (`status.missingSince`, ADR 0022) at the first resolve
 * tick after a finding is first seen missing, and removed when it comes back, so a new leader (or a shard's new
 * owner) resolves it at the original deadline: a failover neither restarts nor shortens a grace period. Every
 * status write is fenced by a resourceVersion precondition read under the current guard (core/host/fenced-status.ts).
 *
 * Over 250 lines for now: #15 item 4 (durable clocks, fencing) landed here in this session and is still being worked
 * on; the seam for the split is the index contract (IndexedObservation, ObservationIndex, scope labels: lines
 * below up to the Resolver class), which moves to its own module once that work settles.
 */
import { createHash } from 'node:crypto';
import type { Observation, ObservationDraft, ReconcileResult } from '../api/index.ts';
import type { IngesterConfig } from '../config/validate.ts';
import { CONTENT_HASH_ANNOTATION, type CompiledIngester, type Pipeline } from '../pipeline/pipeline.ts';
import { type ShardWork, shardWork } from '../shard/context.ts';

export const SCOPE_LABEL = 'zen.kube-zen.io/scope';

export interface IndexedObservation {
  name: string;
  namespace: string;
  phase: 'Active' | 'Resolved';
  scope: string;
  /** The `zen.kube-zen.io/content-hash` annotation: what the source reported (mutable fields), hashed. */
  contentHash?: string;
  /**
   * `spec.resource.namespace`, '' when the finding is about a cluster-scoped resource; undefined when not known
   * (an entry from our own write not yet seen by the watch). Sharded, it names the finding's unit (ADR 0020).
   */
  resourceNamespace?: string;
  /** As read under the current guard (term or shard slot): the precondition of every status write (fencing). */
  resourceVersion?: string;
  /** `status.missingSince` (ms): since when the finding is no longer reported, persisted. */
  missingSince?: number;
}

/** Where the resolver reads and marks Observations (Kubernetes in production, memory in the test kit). */
export interface ObservationIndex {
  /** Observations of this Ingester, optionally of one scope (label-selected). */
  list(ingester: IngesterConfig, scope?: string, signal?: AbortSignal): Promise<IndexedObservation[]>;
  /**
   * Resolved (also removes missingSince), or Active again. Fenced: conditional on `o.resourceVersion`; a resolution
   * is not written if the Observation's missingSince is no longer `o.missingSince` (the finding was seen again).
   * 'written' when the phase was changed by this call.
   */
  setPhase(
    o: IndexedObservation,
    phase: 'Active' | 'Resolved',
    reason: string,
    signal?: AbortSignal,
  ): Promise<'written' | 'unchanged' | 'fenced' | 'gone'>;
  /**
   * Persists (`since`, ms) or removes (undefined) the missing-since time, fenced like setPhase. Returns the
   * Observation as it is afterwards (a missingSince persisted earlier by another leader wins), or undefined when it
   * is gone or this replica may no longer act.
   */
  setMissing?(
    o: IndexedObservation,
    since: number | undefined,
    signal?: AbortSignal,
  ): Promise<IndexedObservation | undefined>;
  /**
   * Observations of this Ingester and scope that the pipeline just wrote (or found existing). An index that reads
   * from a cache records them, so the next list() sees them even before its watch does (read-your-writes).
   */
  noteStored?(ingester: IngesterConfig, scope: string, stored: readonly { namespace: string; name: string }[]): void;
  /**
   * Updates in place (leader only): the finding's identity is unchanged but what the source reports about it
   * (severity, title, message, details, category, eventType) is not. Idempotent: 'unchanged' when the stored
   * content hash already matches.
   */
  updateContent?(
    o: IndexedObservation,
    obs: Observation,
    signal?: AbortSignal,
  ): Promise<'updated' | 'unchanged' | 'gone'>;
}

export function scopeLabel(scope: string): string {
  return createHash('sha256').update(scope).digest('hex').slice(0, 16);
}

/**
 * A finding seen missing: since when, what to resolve, whether that time is persisted yet (`status.missingSince`,
 * written at the next tick, so a report deleted and re-created at once writes nothing), and sharded, the run's
 * work context it was found missing in (its guard; dropped once that epoch ended: the unit's next owner finds it
 * missing again, with the persisted clock).
 */
interface Missing {
  since: number;
  obs: IndexedObservation;
  persisted: boolean;
  work?: ShardWork;
}

export class Resolver {
  readonly #pipeline: Pipeline;
  readonly #index: ObservationIndex;
  readonly #graceMs: number;
  readonly #now: () => number;
  readonly #canAct: () => boolean;
  /**
   * `namespace/name` → when we first saw it missing, and what to resolve; sharded, the run's work context it was
   * found missing in (its guard; dropped once that epoch ended: the unit's next owner finds it missing again).
   */
  readonly #missing = new Map<string, Missing>();
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
    this.#graceMs = o.graceMs;
    this.#now = o.now ?? Date.now;
    this.#canAct = o.canAct;
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
    const result: ReconcileResult = {
      created: emitted.created,
      duplicates: emitted.duplicates,
      filtered: emitted.filtered,
      dropped: emitted.dropped,
      missing: 0,
      resolved: 0,
      reactivated: 0,
    };
    await this.#settle(existing, wanted, result, signal);
    if (result.resolved) this.#onPhase('resolved', result.resolved);
    if (result.reactivated) this.#onPhase('reactivated', result.reactivated);
    return result;
  }

  async reconcileScopes(ci: CompiledIngester, liveScopes: readonly string[], signal?: AbortSignal): Promise<void> {
    const live = new Set(liveScopes.map(scopeLabel));
    const all = mine(await this.#index.list(ci.config, undefined, signal));
    const orphans = all.filter((o) => !live.has(o.scope));
    await this.#settle(
      orphans,
      new Set(),
      { created: 0, duplicates: 0, filtered: 0, dropped: 0, missing: 0, resolved: 0, reactivated: 0 },
      signal,
    );
  }

  /** Resolve what has been missing longer than the grace period (called periodically on the leader). */
  async tick(signal?: AbortSignal): Promise<number> {
    let resolved = 0;
    for (const [key, m] of this.#missing) {
      if (signal?.aborted) break;
      const work = m.work;
      if (work?.epoch.signal.aborted) {
        this.#missing.delete(key);
        continue;
      }
      // The guard (and the index's own check before the write) is the run's when it was found missing in one.
      const within = <T>(fn: () => T): T => (work ? shardWork.run(work, fn) : fn());
      if (!within(() => this.#canAct())) continue;
      if (this.#now() - m.since < this.#graceMs) {
        if (!m.persisted) await within(() => this.#persist(m, signal));
        continue;
      }
      const r = await within(() =>
        this.#index.setPhase(m.obs, 'Resolved', 'the source no longer reports this finding', signal),
      );
      if (r === 'fenced') continue;
      this.#missing.delete(key);
      if (r === 'written') resolved++;
    }
    if (resolved) this.#onPhase('resolved', resolved);
    return resolved;
  }

  /** Persists the missing-since time (fenced); a clock another leader persisted meanwhile wins. */
  async #persist(m: Missing, signal?: AbortSignal): Promise<void> {
    if (!this.#index.setMissing) {
      m.persisted = true;
      return;
    }
    const after = await this.#index.setMissing(m.obs, m.since, signal);
    if (!after) return; // gone, or this replica may no longer act
    m.persisted = true;
    m.obs = after;
    if (after.missingSince !== undefined) m.since = after.missingSince;
  }

  get pending(): number {
    return this.#missing.size;
  }

  async #settle(existing: IndexedObservation[], wanted: Set<string>, result: ReconcileResult, signal?: AbortSignal) {
    const now = this.#now();
    for (const e of existing) {
      const key = `${e.namespace}/${e.name}`;
      if (wanted.has(key)) {
        this.#missing.delete(key);
        if (!this.#canAct()) continue;
        if (e.phase === 'Resolved') {
          const r = await this.#index.setPhase(e, 'Active', 'the source reports this finding again', signal);
          if (r === 'written') result.reactivated++;
        } else if (e.missingSince !== undefined) {
          await this.#index.setMissing?.(e, undefined, signal); // back within the grace period: stop the clock
        }
        continue;
      }
      if (e.phase === 'Resolved') continue;
      const work = shardWork.getStore();
      let m = this.#missing.get(key);
      if (m && work && m.work !== work) {
        // Found missing again by another run. An entry of an ended epoch is dead (the tick drops it without acting):
        // keeping it would lose the finding for this whole epoch, whose run reconciles the scope only when its
        // report changes (issue #13, sharding defect 2). This run tracks it from here, as a new owner would: with
        // the persisted clock, else from now. A run restarted within the same epoch (Ingester update) takes it over.
        if (m.work?.epoch.signal.aborted) m = undefined;
        else m.work = work;
      }
      if (m) {
        const clock = e.missingSince ?? m.obs.missingSince;
        m.obs = { ...e, ...(clock !== undefined ? { missingSince: clock } : {}) };
      } else {
        // A clock persisted by an earlier leader (or owner) keeps running; otherwise it starts now and is persisted
        // at the next tick, unless the finding is reported again before.
        m = {
          since: e.missingSince ?? now,
          obs: e,
          persisted: e.missingSince !== undefined,
          ...(work ? { work } : {}),
        };
        this.#missing.set(key, m);
      }
      if (now - m.since >= this.#graceMs && this.#canAct()) {
        const r = await this.#index.setPhase(m.obs, 'Resolved', 'the source no longer reports this finding', signal);
        if (r !== 'fenced') this.#missing.delete(key);
        if (r === 'written') result.resolved++;
        else if (r === 'fenced') result.missing++;
      } else result.missing++;
    }
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
