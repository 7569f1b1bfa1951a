/**
 * The resolver's clocks (ADR 0009, 0022): for each informer finding no longer reported, since when it is missing,
 * until it is reported again (clock stopped) or its grace period passed (Resolved).
 *
 * - `settle` takes the Observations of one reconcile (of a scope, or the orphaned scopes) and which of them are
 *   still reported: those reported are set Active again if they were Resolved, and their clock is stopped (the
 *   persisted `status.missingSince` removed); the others start a clock, or keep theirs, and are resolved at once if
 *   it ran out.
 * - `tick` (every few seconds, resolve-loop.ts) persists the clocks started since the last tick as
 *   `status.missingSince` — not at once, so a report deleted and re-created at once writes nothing — and resolves
 *   those whose grace period passed. A clock persisted by an earlier leader or shard owner keeps running: a failover
 *   neither restarts nor shortens a grace period.
 * - Sharded (ADR 0020), a clock belongs to the run's work context it was found missing in: the tick acts under that
 *   context's guard and drops clocks whose epoch ended (the unit's next owner — often this replica's next epoch —
 *   finds them missing again when it relists, with the persisted clock). A clock found missing again by another
 *   run moves to it, or, if its epoch ended, starts again from the persisted clock (issue #13, sharding defect 2).
 *
 * Every write goes through the index, fenced (core/host/fenced-status.ts).
 */
import type { ShardWork } from '../shard/context.ts';
import { shardWork } from '../shard/context.ts';
import type { IndexedObservation, ObservationIndex } from './observation-index.ts';

/** A finding seen missing: since when, what to resolve, whether that time is persisted yet, and in which run. */
interface Missing {
  since: number;
  obs: IndexedObservation;
  persisted: boolean;
  work?: ShardWork;
}

/** What one `settle` did: findings still missing (within their grace period, or fenced), resolved, reactivated. */
export interface Settled {
  missing: number;
  resolved: number;
  reactivated: number;
}

const GONE = 'the source no longer reports this finding';
const BACK = 'the source reports this finding again';

export class MissingClocks {
  readonly #index: ObservationIndex;
  readonly #graceMs: number;
  readonly #now: () => number;
  readonly #canAct: () => boolean;
  /** `namespace/name` of the Observation → its clock. */
  readonly #missing = new Map<string, Missing>();

  constructor(o: { index: ObservationIndex; graceMs: number; now: () => number; canAct: () => boolean }) {
    this.#index = o.index;
    this.#graceMs = o.graceMs;
    this.#now = o.now;
    this.#canAct = o.canAct;
  }

  /** Clocks running (`zen_watcher_resolve_pending`). */
  get pending(): number {
    return this.#missing.size;
  }

  /** `existing`: Observations of the reconcile; `wanted`: `namespace/name` of those still reported. */
  async settle(existing: readonly IndexedObservation[], wanted: ReadonlySet<string>, signal?: AbortSignal) {
    const out: Settled = { missing: 0, resolved: 0, reactivated: 0 };
    const now = this.#now();
    for (const e of existing) {
      const key = `${e.namespace}/${e.name}`;
      if (wanted.has(key)) {
        this.#missing.delete(key);
        if (!this.#canAct()) continue;
        if (e.phase === 'Resolved') {
          if ((await this.#index.setPhase(e, 'Active', BACK, signal)) === 'written') out.reactivated++;
        } else if (e.missingSince !== undefined) {
          await this.#index.setMissing?.(e, undefined, signal); // back within the grace period: stop the clock
        }
        continue;
      }
      if (e.phase === 'Resolved') continue;
      const m = this.#track(key, e, now);
      if (now - m.since >= this.#graceMs && this.#canAct()) {
        const r = await this.#index.setPhase(m.obs, 'Resolved', GONE, signal);
        if (r !== 'fenced') this.#missing.delete(key);
        if (r === 'written') out.resolved++;
        else if (r === 'fenced') out.missing++;
      } else out.missing++;
    }
    return out;
  }

  /** The clock of `e`, found missing now by the current run: kept, moved to this run, or started. */
  #track(key: string, e: IndexedObservation, now: number): Missing {
    const work = shardWork.getStore();
    let m = this.#missing.get(key);
    if (m && work && m.work !== work) {
      // Found missing again by another run. A clock of an ended epoch is dead (the tick drops it without acting):
      // keeping it would lose the finding for this whole epoch, whose run reconciles the scope only when its report
      // changes (issue #13, sharding defect 2). This run tracks it from here, as a new owner would: with the
      // persisted clock, else from now. A run restarted within the same epoch (Ingester update) takes it over.
      if (m.work?.epoch.signal.aborted) m = undefined;
      else m.work = work;
    }
    if (m) {
      const clock = e.missingSince ?? m.obs.missingSince;
      m.obs = { ...e, ...(clock !== undefined ? { missingSince: clock } : {}) };
      return m;
    }
    // A clock persisted by an earlier leader (or owner) keeps running; otherwise it starts now and is persisted at
    // the next tick, unless the finding is reported again before.
    m = { since: e.missingSince ?? now, obs: e, persisted: e.missingSince !== undefined, ...(work ? { work } : {}) };
    this.#missing.set(key, m);
    return m;
  }

  /** Persists new clocks; resolves what has been missing longer than the grace period. Returns how many. */
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
      const r = await within(() => this.#index.setPhase(m.obs, 'Resolved', GONE, signal));
      if (r === 'fenced') continue;
      this.#missing.delete(key);
      if (r === 'written') resolved++;
    }
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
}
