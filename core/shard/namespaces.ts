/**
 * Per-namespace watches of the owned units only (ADR 0025): what makes a sharded replica's informer memory and API
 * traffic follow its share instead of the cluster.
 *
 * Without it, a cluster-wide plugin informer on a sharded replica LISTs and WATCHes every report of its kind and
 * drops the objects of units it does not own on arrival (ADR 0020): what it keeps is its share, but what it
 * receives, parses and throws away is the whole cluster, on every replica. Here the replica learns the cluster's
 * namespaces (one metadata-only watch of Namespaces per process, `NamespaceSet`) and runs one namespaced informer
 * per owned namespace instead (`watchOwnedNamespaces`):
 *
 * - a namespace created during a run whose unit the run owns gets its informer; a deleted one's informer stops
 *   (objects it still held are delivered as deleted: the namespace is gone);
 * - `synced` keeps its meaning, every object in scope: it fires with the union of the namespaces' current objects
 *   once every running namespace informer has listed, and again after each later (re)list of one of them;
 * - callbacks are serialized across the namespaces (one plugin informer, one stream of events, as before);
 * - lists go through a gate (`ListGate`, 2 at a time per process): a replica starting 20 namespace informers holds
 *   two list pages in memory at once, not twenty;
 * - past `cap` owned namespaces at the start of a run (`ZEN_SHARD_NAMESPACE_WATCHES`, default 64), or when the
 *   namespaces cannot be listed (RBAC without `namespaces` list/watch), the run falls back to the cluster-wide
 *   watch with the ownership filter (counted in `zen_watcher_shard_informer_fallbacks_total`, logged).
 *
 * Slot moves still follow epochs (ADR 0020): a replica whose slots change restarts its runs, and each run lists
 * only its owned namespaces.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { InformerEvents, InformerOptions } from '../api/plugin.ts';
import { createInformer, gvrString, type InformerMetrics, type KubeLog } from '../kube/informer.ts';
import { errorText, statusOf } from '../kube/request.ts';
import { keyOf, metaOf } from '../kube/store.ts';
import type { ShardWork } from './context.ts';

/** Default cap of per-namespace watches per sharded informer (`ZEN_SHARD_NAMESPACE_WATCHES`). */
export const DEFAULT_NAMESPACE_WATCHES = 64;
/** The Namespace watch is kept this long after its last user stopped (an epoch change starts new users ~200 ms later). */
export const NAMESPACE_WATCH_LINGER_MS = 5_000;
/** Lists of per-namespace informers running at once, per process. */
export const NAMESPACE_LIST_CONCURRENCY = 2;

/** Metadata only (as client-go's metadata client asks): the Namespace watch needs names, nothing else. */
export const METADATA_ACCEPT = {
  list: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
  watch: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
};

/** A counting semaphore; `acquire` resolves with the release, at once with a no-op once `signal` aborts. */
export class ListGate {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(concurrency: number) {
    this.#free = concurrency;
  }

  acquire = (signal: AbortSignal): Promise<() => void> => {
    if (signal.aborted) return Promise.resolve(() => {});
    const grant = (): (() => void) => {
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const next = this.#waiting.shift();
        if (next) next();
        else this.#free++;
      };
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(grant());
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        const i = this.#waiting.indexOf(take);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(() => {});
      };
      const take = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(grant());
      };
      this.#waiting.push(take);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };
}

export interface NamespaceListener {
  added(ns: string): void;
  deleted(ns: string): void;
}

/**
 * The cluster's namespaces, from one metadata-only watch of Namespaces, run while some sharded informer uses it
 * (and `NAMESPACE_WATCH_LINGER_MS` after the last one stopped, so an epoch change reuses it), or until `signal`
 * aborts. `subscribe` resolves with the names once listed (and the listener gets later changes until its signal
 * aborts), or with undefined when Namespaces cannot be listed (401/403: RBAC without the rule; tried again after
 * the watch stopped).
 */
export class NamespaceSet {
  readonly #kc: KubeConfig;
  readonly #log: KubeLog;
  readonly #metrics: InformerMetrics | undefined;
  readonly #signal: AbortSignal;
  readonly #names = new Set<string>();
  readonly #listeners = new Set<NamespaceListener>();
  #state: 'idle' | 'listing' | 'synced' | 'forbidden' = 'idle';
  #ready: Promise<void> | undefined;
  #markReady: () => void = () => {};
  #stop: AbortController | undefined;
  #users = 0;
  #linger: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig, deps: { log: KubeLog; metrics?: InformerMetrics; signal: AbortSignal }) {
    this.#kc = kc;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#signal = deps.signal;
  }

  async subscribe(signal: AbortSignal, listener: NamespaceListener): Promise<string[] | undefined> {
    if (signal.aborted) return undefined;
    this.#users++;
    clearTimeout(this.#linger);
    signal.addEventListener(
      'abort',
      () => {
        this.#listeners.delete(listener);
        if (--this.#users > 0) return;
        this.#linger = setTimeout(() => this.#halt(), NAMESPACE_WATCH_LINGER_MS);
        this.#linger.unref?.();
      },
      { once: true },
    );
    this.#start();
    await Promise.race([this.#ready, untilAborted(signal)]);
    if (signal.aborted || this.#state !== 'synced') return undefined;
    this.#listeners.add(listener);
    return [...this.#names];
  }

  /** Nobody uses the watch any more: stop it (the next subscriber starts a new one). */
  #halt(): void {
    if (this.#users > 0) return;
    this.#stop?.abort();
    this.#stop = undefined;
    this.#state = 'idle';
    this.#names.clear();
  }

  #start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'listing';
    this.#ready = new Promise<void>((resolve) => {
      this.#markReady = resolve;
    });
    const ctl = new AbortController();
    this.#stop = ctl;
    const signal = AbortSignal.any([this.#signal, ctl.signal]);
    const ready = this.#markReady;
    signal.addEventListener('abort', () => ready(), { once: true });
    const nameOf = (obj: unknown) => metaOf(obj).name ?? '';
    void createInformer<unknown>(
      this.#kc,
      { group: '', version: 'v1', resource: 'namespaces', signal },
      {
        add: (obj) => {
          const ns = nameOf(obj);
          if (this.#stop !== ctl || this.#names.has(ns)) return;
          this.#names.add(ns);
          for (const l of this.#listeners) l.added(ns);
        },
        delete: (obj) => {
          const ns = nameOf(obj);
          if (this.#stop !== ctl || !this.#names.delete(ns)) return;
          for (const l of this.#listeners) l.deleted(ns);
        },
        synced: () => {
          if (this.#stop !== ctl) return;
          this.#state = 'synced';
          this.#markReady();
        },
      },
      {
        log: this.#log,
        ...(this.#metrics ? { metrics: this.#metrics } : {}),
        accept: METADATA_ACCEPT,
        transform: (obj) => {
          const m = metaOf(obj);
          return { metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion } };
        },
        onListError: (err) => {
          const status = statusOf(err);
          if (this.#stop === ctl && this.#state === 'listing' && (status === 401 || status === 403)) {
            this.#state = 'forbidden';
            this.#log.warn(
              { err: errorText(err), status },
              'sharding: cannot list namespaces (RBAC); sharded informers watch cluster-wide and drop the units of other replicas',
            );
            ctl.abort();
            this.#markReady();
          }
        },
      },
    ).catch((err) => this.#log.error({ err: errorText(err) }, 'sharding: the namespace watch failed'));
  }
}

export interface OwnedNamespacesMetrics {
  /** Per-namespace watches of sharded informers opened (+1) or stopped (−1). */
  watches(gvr: string, delta: number): void;
  /** A sharded informer watches cluster-wide instead. */
  fallback(gvr: string, reason: 'cap' | 'namespaces-unlistable'): void;
}

export interface OwnedNamespacesDeps<T> {
  namespaces: NamespaceSet;
  /** Most owned namespaces watched one by one; past it, cluster-wide. */
  cap: number;
  gate: ListGate;
  log: KubeLog;
  metrics: OwnedNamespacesMetrics;
  /** Opens the namespaced informer of `ns` (resolves once it stopped). */
  open(ns: string, events: InformerEvents<T>, signal: AbortSignal): Promise<void>;
  /** The cluster-wide informer with the ownership filter (ADR 0020). */
  clusterWide(): Promise<void>;
}

/**
 * Runs a cluster-wide plugin informer of a namespaced resource, inside sharded work, as one informer per owned
 * namespace (see the file comment). Resolves once `options.signal` aborted and every namespace informer stopped.
 */
export async function watchOwnedNamespaces<T>(
  options: InformerOptions,
  events: InformerEvents<T>,
  work: ShardWork,
  deps: OwnedNamespacesDeps<T>,
): Promise<void> {
  const { signal } = options;
  const gvr = gvrString(options);
  const ctx = { gvr, ingester: work.ingester };
  // Namespace changes that arrive before the initial set is handled are replayed after it.
  const early: [kind: 'added' | 'deleted', ns: string][] = [];
  let onChange: (kind: 'added' | 'deleted', ns: string) => void = (kind, ns) => void early.push([kind, ns]);
  const initial = await deps.namespaces.subscribe(signal, {
    added: (ns) => onChange('added', ns),
    deleted: (ns) => onChange('deleted', ns),
  });
  if (signal.aborted) return;
  if (initial === undefined) {
    deps.metrics.fallback(gvr, 'namespaces-unlistable');
    return deps.clusterWide();
  }
  const owned = initial.filter((ns) => work.owns(ns));
  if (owned.length > deps.cap) {
    deps.metrics.fallback(gvr, 'cap');
    deps.log.info(
      { ...ctx, owned: owned.length, cap: deps.cap },
      'sharding: more owned namespaces than ZEN_SHARD_NAMESPACE_WATCHES; watching cluster-wide with the ownership filter',
    );
    return deps.clusterWide();
  }

  // One stream of callbacks, whatever namespace they come from.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = (fn: () => void | Promise<void>): Promise<void> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };
  interface Watch {
    ctl: AbortController;
    current: Map<string, T>;
    listed: boolean;
    done: Promise<void>;
  }
  const watches = new Map<string, Watch>();
  const stopped: Promise<void>[] = [];
  const union = (): T[] => [...watches.values()].flatMap((w) => [...w.current.values()]);
  const allListed = (): boolean => [...watches.values()].every((w) => w.listed);

  const start = (ns: string): void => {
    if (watches.has(ns) || signal.aborted || !work.owns(ns)) return;
    const ctl = new AbortController();
    const w: Watch = { ctl, current: new Map(), listed: false, done: Promise.resolve() };
    watches.set(ns, w);
    deps.metrics.watches(gvr, 1);
    const wrapped: InformerEvents<T> = {
      add: (obj) =>
        serial(() => {
          w.current.set(keyOf(obj), obj);
          return events.add?.(obj);
        }),
      update: (obj, old) =>
        serial(() => {
          w.current.set(keyOf(obj), obj);
          return events.update?.(obj, old);
        }),
      delete: (obj) =>
        serial(() => {
          w.current.delete(keyOf(obj));
          return events.delete?.(obj);
        }),
      synced: (objects) =>
        serial(() => {
          w.current = new Map(objects.map((o) => [keyOf(o), o]));
          w.listed = true;
          if (allListed() && watches.get(ns) === w) return events.synced?.(union());
        }),
    };
    w.done = deps
      .open(ns, wrapped, AbortSignal.any([signal, ctl.signal]))
      .catch((err) =>
        deps.log.error({ ...ctx, namespace: ns, err: errorText(err) }, 'sharding: a namespace informer failed'),
      )
      .finally(() => deps.metrics.watches(gvr, -1));
  };
  const stop = (ns: string): void => {
    const w = watches.get(ns);
    if (!w) return;
    watches.delete(ns);
    stopped.push(w.done);
    w.ctl.abort();
    // The namespace is gone: whatever its informer still held is gone too.
    const left = [...w.current.values()];
    w.current.clear();
    if (left.length)
      void serial(async () => {
        for (const obj of left) await events.delete?.(obj);
      });
    deps.log.debug({ ...ctx, namespace: ns, objects: left.length }, 'sharding: namespace deleted; its watch stopped');
  };

  if (owned.length === 0) await serial(() => events.synced?.([]));
  for (const ns of owned) start(ns);
  onChange = (kind, ns) => (kind === 'added' ? start(ns) : stop(ns));
  for (const [kind, ns] of early.splice(0)) onChange(kind, ns);
  deps.log.debug({ ...ctx, namespaces: owned.length }, 'sharding: watching the owned namespaces');
  await untilAborted(signal);
  await Promise.all([...stopped, ...[...watches.values()].map((w) => w.done)]);
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
