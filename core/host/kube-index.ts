/**
 * The resolver's view of Observations in Kubernetes: which Observations of an Ingester (and scope) exist and in
 * which phase, and the leader's status writes (Resolved / Active) via /status.
 *
 * Reads come from a watch-fed cache while the replica leads (`cacheFor(term.signal)`): the resolver asks once per
 * report and reconcile, and a new leader reconciles every report at once, so one label-selected LIST per call —
 * each of which the API server answers by filtering every Observation — made catch-up after a failover grow with
 * the number of reports. The cache is one list + watch of the Observations that carry a scope label, in the
 * watched namespaces, started for the term and dropped when it ends (followers hold nothing). Without a cache (not
 * leading, or before its first list completes) reads fall back to a direct LIST, so a result is never guessed.
 *
 * A cache lags the API server by the watch's latency, so our own writes are applied to it at once
 * (read-your-writes): the Observations the resolver's reconcile just stored (`noteStored`) and our status patches.
 * Otherwise a finding written and gone again within that lag would never be resolved. Changes made by others
 * arrive through the watch; acting on a not-yet-seen one is idempotent (a 409 on create, a repeated patch).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { IngesterConfig } from '../config/validate.ts';
import type { KubeApi } from '../kube/api.ts';
import { createInformer, type InformerMetrics, type KubeLog } from '../kube/informer.ts';
import { CONTENT_HASH_ANNOTATION } from '../pipeline/pipeline.ts';
import { OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import { type IndexedObservation, type ObservationIndex, SCOPE_LABEL } from './resolver.ts';

const INGESTER_LABEL = 'zen.kube-zen.io/ingester';
const INGESTER_NS_LABEL = 'zen.kube-zen.io/ingester-namespace';

interface Obs {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: Record<string, unknown>;
  status?: { phase?: string };
}

const hashOf = (o: Obs) => o.metadata.annotations?.[CONTENT_HASH_ANNOTATION];

export interface KubeObservationIndex extends ObservationIndex {
  /** Serve list() from a watch-fed cache until `signal` aborts (pass the leader term's signal). */
  cacheFor(signal: AbortSignal): void;
  noteStored(ingester: IngesterConfig, scope: string, stored: readonly { namespace: string; name: string }[]): void;
  /** Objects in the cache, or undefined when there is none (for metrics and tests). */
  cached(): number | undefined;
}

export interface KubeIndexDeps {
  kubeConfig: KubeConfig;
  log: KubeLog;
  metrics?: InformerMetrics;
  /** How long list() waits for a new cache's first list before it falls back to a direct LIST. Default 30 000. */
  syncWaitMs?: number;
}

/** Ingester key → scope label → `namespace/name` → Observation. */
type Entries = Map<string, Map<string, Map<string, IndexedObservation>>>;

class ObservationCache {
  readonly entries: Entries = new Map();
  /** `namespace/name` → where it is filed, to move or drop it on update/delete. */
  readonly #where = new Map<string, { ingester: string; scope: string }>();
  readonly ready: Promise<void>;
  synced = false;
  #markReady!: () => void;

  constructor() {
    this.ready = new Promise((r) => (this.#markReady = r));
  }

  markSynced(): void {
    this.synced = true;
    this.#markReady();
  }

  get size(): number {
    return this.#where.size;
  }

  upsert(o: Obs): void {
    const labels = o.metadata.labels ?? {};
    const ingester = `${labels[INGESTER_NS_LABEL] ?? ''}/${labels[INGESTER_LABEL] ?? ''}`;
    const scope = labels[SCOPE_LABEL] ?? '';
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    this.remove(key);
    const entry: IndexedObservation = {
      name: o.metadata.name,
      namespace: o.metadata.namespace,
      phase: o.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
      scope,
    };
    const hash = hashOf(o);
    if (hash) entry.contentHash = hash;
    this.#file(ingester, scope, key, entry);
  }

  #file(ingester: string, scope: string, key: string, entry: IndexedObservation): void {
    const scopes = this.entries.get(ingester) ?? new Map<string, Map<string, IndexedObservation>>();
    this.entries.set(ingester, scopes);
    const items = scopes.get(scope) ?? new Map<string, IndexedObservation>();
    scopes.set(scope, items);
    items.set(key, entry);
    this.#where.set(key, { ingester, scope });
  }

  remove(key: string): void {
    const w = this.#where.get(key);
    if (!w) return;
    this.#where.delete(key);
    const scopes = this.entries.get(w.ingester);
    const items = scopes?.get(w.scope);
    items?.delete(key);
    if (items?.size === 0) scopes?.delete(w.scope);
    if (scopes?.size === 0) this.entries.delete(w.ingester);
  }

  list(ingester: string, scope?: string): IndexedObservation[] {
    const scopes = this.entries.get(ingester);
    if (!scopes) return [];
    const pick = scope === undefined ? [...scopes.values()] : [scopes.get(scope) ?? new Map()];
    return pick.flatMap((items) => [...items.values()].map((e) => ({ ...e })));
  }

  /** Our own write, before the watch delivers it: filed as Active unless the cache already has it. */
  noteStored(ingester: string, scope: string, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.#where.has(key)) this.#file(ingester, scope, key, { name, namespace, phase: 'Active', scope });
  }

  setContentHash(o: IndexedObservation, hash: string): void {
    const w = this.#where.get(`${o.namespace}/${o.name}`);
    const e = w && this.entries.get(w.ingester)?.get(w.scope)?.get(`${o.namespace}/${o.name}`);
    if (e) e.contentHash = hash;
  }

  setPhase(o: IndexedObservation, phase: 'Active' | 'Resolved'): void {
    const w = this.#where.get(`${o.namespace}/${o.name}`);
    const e = w && this.entries.get(w.ingester)?.get(w.scope)?.get(`${o.namespace}/${o.name}`);
    if (e) e.phase = phase;
  }
}

/**
 * What the cache keeps of an Observation: identity, the three labels it is filed by, and the phase. A full
 * Observation is a few KB (spec, details, managedFields); the informer's store would otherwise hold every one of
 * them for the whole term.
 */
function slim(obj: unknown): Obs {
  const o = obj as Obs & { metadata: { uid?: string; resourceVersion?: string } };
  const labels = o.metadata?.labels ?? {};
  const kept: Record<string, string> = {};
  for (const k of [INGESTER_LABEL, INGESTER_NS_LABEL, SCOPE_LABEL]) if (labels[k] !== undefined) kept[k] = labels[k];
  return {
    metadata: {
      name: o.metadata?.name,
      namespace: o.metadata?.namespace,
      uid: o.metadata?.uid,
      resourceVersion: o.metadata?.resourceVersion,
      labels: kept,
      ...(hashOf(o) ? { annotations: { [CONTENT_HASH_ANNOTATION]: hashOf(o) } } : {}),
    },
    ...(o.status?.phase ? { status: { phase: o.status.phase } } : {}),
  } as Obs;
}

export function kubeObservationIndex(
  api: KubeApi,
  namespaces: readonly string[],
  canAct: () => boolean,
  deps?: KubeIndexDeps,
): KubeObservationIndex {
  const gvr = { group: OBSERVATION_GVR.group, version: OBSERVATION_GVR.version, plural: OBSERVATION_GVR.plural };
  const syncWaitMs = deps?.syncWaitMs ?? 30_000;
  let cache: ObservationCache | undefined;

  async function listDirect(ingester: IngesterConfig, scope?: string, signal?: AbortSignal) {
    const selector = [
      `${INGESTER_LABEL}=${ingester.name}`,
      `${INGESTER_NS_LABEL}=${ingester.namespace}`,
      scope ? `${SCOPE_LABEL}=${scope}` : SCOPE_LABEL,
    ].join(',');
    const out: IndexedObservation[] = [];
    for (const namespace of namespaces.length ? namespaces : [undefined]) {
      let cont: string | undefined;
      do {
        const page = await api.list<Obs>({
          ...gvr,
          ...(namespace ? { namespace } : {}),
          labelSelector: selector,
          limit: 500,
          ...(cont ? { continue: cont } : {}),
          ...(signal ? { signal } : {}),
        });
        for (const o of page.items) {
          const hash = hashOf(o);
          out.push({
            name: o.metadata.name,
            namespace: o.metadata.namespace,
            phase: o.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
            scope: o.metadata.labels?.[SCOPE_LABEL] ?? '',
            ...(hash ? { contentHash: hash } : {}),
          });
        }
        cont = page.metadata.continue || undefined;
      } while (cont);
    }
    return out;
  }

  /** The cache once its first list is complete; undefined if there is none or it did not sync within syncWaitMs. */
  async function syncedCache(signal?: AbortSignal): Promise<ObservationCache | undefined> {
    const c = cache;
    if (!c || c.synced) return c;
    const timeout = AbortSignal.timeout(syncWaitMs);
    const wait = signal ? AbortSignal.any([signal, timeout]) : timeout;
    await Promise.race([c.ready, new Promise((r) => wait.addEventListener('abort', r, { once: true }))]);
    return c.synced && cache === c ? c : undefined;
  }

  return {
    cacheFor(signal: AbortSignal) {
      if (!deps || signal.aborted) return;
      const c = new ObservationCache();
      cache = c;
      signal.addEventListener(
        'abort',
        () => {
          if (cache === c) cache = undefined;
        },
        { once: true },
      );
      const scopes = namespaces.length ? namespaces : [undefined];
      const listed = new Set<string>();
      for (const ns of scopes) {
        void createInformer<Obs>(
          deps.kubeConfig,
          {
            group: gvr.group,
            version: gvr.version,
            resource: gvr.plural,
            ...(ns ? { namespace: ns } : {}),
            labelSelector: SCOPE_LABEL,
            signal,
          },
          {
            add: (o) => c.upsert(o),
            update: (o) => c.upsert(o),
            delete: (o) => c.remove(`${o.metadata.namespace}/${o.metadata.name}`),
            synced: () => {
              listed.add(ns ?? '');
              if (listed.size === scopes.length) c.markSynced();
            },
          },
          { log: deps.log, transform: slim, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
        ).catch((err) => {
          if (cache === c) cache = undefined;
          deps.log.warn({ err: (err as Error).message }, 'Observation cache stopped; reads LIST again');
        });
      }
    },
    cached: () => (cache?.synced ? cache.size : undefined),
    async list(ingester: IngesterConfig, scope?: string, signal?: AbortSignal): Promise<IndexedObservation[]> {
      const c = await syncedCache(signal);
      if (c) return c.list(`${ingester.namespace}/${ingester.name}`, scope);
      return listDirect(ingester, scope, signal);
    },
    noteStored(ingester, scope, stored) {
      const c = cache;
      if (!c) return;
      for (const o of stored) c.noteStored(`${ingester.namespace}/${ingester.name}`, scope, o.namespace, o.name);
    },
    async updateContent(o, obs, signal) {
      const want = obs.annotations[CONTENT_HASH_ANNOTATION] ?? '';
      // Read, compare, replace with the resourceVersion read: a concurrent writer makes the PUT fail (409) and we
      // read again, so nothing written meanwhile (status, another update) is overwritten.
      for (let attempt = 1; ; attempt++) {
        if (!canAct()) return 'unchanged'; // a leader-only write
        let cur: Obs;
        try {
          cur = await api.get<Obs>({ ...gvr, namespace: o.namespace, name: o.name, ...(signal ? { signal } : {}) });
        } catch (err) {
          if ((err as { code?: number }).code === 404) return 'gone';
          throw err;
        }
        if (hashOf(cur) === want) {
          cache?.setContentHash(o, want);
          return 'unchanged';
        }
        const spec: Record<string, unknown> = { ...cur.spec };
        for (const k of ['severity', 'category', 'eventType', 'title', 'message', 'details'] as const) {
          const v = obs.spec[k];
          if (v === undefined) delete spec[k];
          else spec[k] = v;
        }
        const body = {
          ...cur,
          metadata: {
            ...cur.metadata,
            labels: { ...cur.metadata.labels, severity: obs.spec.severity, category: obs.spec.category },
            annotations: { ...cur.metadata.annotations, [CONTENT_HASH_ANNOTATION]: want },
          },
          spec,
        };
        try {
          await api.replace({ ...gvr, namespace: o.namespace, name: o.name, body, ...(signal ? { signal } : {}) });
          cache?.setContentHash(o, want);
          return 'updated';
        } catch (err) {
          const code = (err as { code?: number }).code;
          if (code === 404) return 'gone';
          if (code !== 409 || attempt >= 5) throw err;
        }
      }
    },
    async setPhase(o, phase, reason, signal) {
      if (!canAct()) return; // a leader-only write: never from a replica that may have lost the Lease
      const status =
        phase === 'Resolved'
          ? { phase, resolvedAt: new Date().toISOString(), reason }
          : { phase, resolvedAt: null, reason };
      try {
        await api.patch({
          ...gvr,
          namespace: o.namespace,
          name: o.name,
          subresource: 'status',
          type: 'merge',
          body: { status },
          ...(signal ? { signal } : {}),
        });
        cache?.setPhase(o, phase);
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
        cache?.remove(`${o.namespace}/${o.name}`);
      }
    },
  };
}
