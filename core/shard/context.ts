/**
 * What a piece of sharded informer work runs under (ADR 0020). The host runs every `api.leaderWork` run of a sharded
 * replica inside `shardWork.run(work, …)`, so whatever the plugin does from there — open a plugin informer, call
 * `run.reconcile` — carries it, through awaits and callbacks, without the plugin passing anything:
 *
 * - plugin informers (core/host/plugin-kube.ts) keep only objects of units this epoch owns;
 * - the leader-only write guard (the runtime's `canActAsLeader`) becomes the epoch's guard: every slot the epoch
 *   was started with still held and renewed within the renew deadline, and the epoch not ended;
 * - the resolver's `reconcileScopes` looks only at Observations of owned units.
 *
 * Outside any run (GC, Ingester status, destinations, plugins on `onBecomeLeader`) nothing changes: the global
 * leader's guard applies.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { slotOf } from './slots.ts';

/** One stretch of time with a fixed set of owned slots; it ends (signal aborts) when the set changes. */
export interface ShardEpoch {
  /** S, the number of slots. */
  readonly slots: number;
  /** The slots held when the epoch started. */
  readonly owned: ReadonlySet<number>;
  readonly signal: AbortSignal;
  readonly identity: string;
  /** ms since the epoch (wall clock), when this epoch started. */
  readonly startedAt: number;
  /** The epoch has not ended, and every slot it owns is held and renewed within the renew deadline (local clock). */
  canAct(): boolean;
}

/** The context of one leader-work run of one Ingester within an epoch. */
export interface ShardWork {
  readonly epoch: ShardEpoch;
  /** `namespace/name` of the Ingester. */
  readonly ingester: string;
  /** Does this run own unit (its Ingester, `namespace`; '' or undefined = cluster-scoped)? */
  owns(namespace: string | undefined): boolean;
  /** An object of this unit was kept (for `zen_watcher_shard_units_owned`). */
  kept(namespace: string | undefined): void;
}

export const shardWork = new AsyncLocalStorage<ShardWork>();

/** The work context of one run. */
export function workFor(epoch: ShardEpoch, ingester: string, onUnits?: (n: number) => void): ShardWork {
  const cache = new Map<string, boolean>();
  const units = new Set<string>();
  return {
    epoch,
    ingester,
    owns(namespace) {
      const ns = namespace ?? '';
      let yes = cache.get(ns);
      if (yes === undefined) {
        yes = epoch.owned.has(slotOf(ingester, ns, epoch.slots));
        cache.set(ns, yes);
      }
      return yes;
    },
    kept(namespace) {
      const ns = namespace ?? '';
      if (units.has(ns)) return;
      units.add(ns);
      onUnits?.(units.size);
    },
  };
}
