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
 * The cache itself (what it keeps of an Observation, how it files them) is in observation-cache.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { IngesterConfig } from '../config/validate.ts';
import type { KubeApi } from '../kube/api.ts';
import { createInformer, type InformerMetrics, type KubeLog } from '../kube/informer.ts';
import { CONTENT_HASH_ANNOTATION } from '../pipeline/pipeline.ts';
import { shardWork } from '../shard/context.ts';
import { OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import { decisions, type FencedWrite, fencedStatusPatch, type StatusDecision } from './fenced-status.ts';
import {
  hashOf,
  INGESTER_LABEL,
  INGESTER_NS_LABEL,
  indexed,
  type Obs,
  ObservationCache,
  resourceNsOf,
  slim,
} from './observation-cache.ts';
import { type IndexedObservation, type ObservationIndex, SCOPE_LABEL } from './observation-index.ts';

export interface KubeObservationIndex extends ObservationIndex {
  /**
   * Serve list() from a watch-fed cache until `signal` aborts (pass the leader term's signal). Sharded (ADR 0020):
   * `keep(ingester, resourceNamespace)` keeps only the owned units' Observations (memory follows the share), and
   * such a cache answers only calls made inside sharded work; others LIST.
   */
  cacheFor(signal: AbortSignal, keep?: (ingester: string, resourceNamespace: string) => boolean): void;
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
  /** A status write refused by its resourceVersion precondition (fencing), for a metric. */
  onPreconditionFailed?: () => void;
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
        for (const o of page.items) out.push(indexed(o));
        cont = page.metadata.continue || undefined;
      } while (cont);
    }
    return out;
  }

  /** A fenced status write (fenced-status.ts) that keeps the cache's copy current (read-your-writes). */
  async function fenced(o: IndexedObservation, decide: StatusDecision, signal?: AbortSignal): Promise<FencedWrite> {
    const known = o.resourceVersion
      ? {
          metadata: { name: o.name, namespace: o.namespace, resourceVersion: o.resourceVersion },
          status: {
            phase: o.phase,
            ...(o.missingSince !== undefined ? { missingSince: new Date(o.missingSince).toISOString() } : {}),
          },
        }
      : undefined;
    const r = await fencedStatusPatch(
      {
        api,
        canAct,
        ...(deps?.onPreconditionFailed ? { onPreconditionFailed: deps.onPreconditionFailed } : {}),
        ...(signal ? { signal } : {}),
      },
      o,
      known,
      decide,
    );
    if (r.outcome === 'gone') cache?.remove(`${o.namespace}/${o.name}`);
    else if (r.state && r.outcome !== 'fenced') cache?.written(o, r.state as Obs);
    return r;
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
    cacheFor(signal: AbortSignal, keep?: (ingester: string, resourceNamespace: string) => boolean) {
      if (!deps || signal.aborted) return;
      const c = new ObservationCache();
      c.partial = keep !== undefined;
      const shape = keep
        ? (obj: unknown) => {
            const o = obj as Obs;
            const labels = o.metadata?.labels ?? {};
            const ingester = `${labels[INGESTER_NS_LABEL] ?? ''}/${labels[INGESTER_LABEL] ?? ''}`;
            return keep(ingester, resourceNsOf(o)) ? slim(obj) : undefined;
          }
        : slim;
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
          { log: deps.log, transform: shape, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
        ).catch((err) => {
          if (cache === c) cache = undefined;
          deps.log.warn({ err: (err as Error).message }, 'Observation cache stopped; reads LIST again');
        });
      }
    },
    cached: () => (cache?.synced ? cache.size : undefined),
    async list(ingester: IngesterConfig, scope?: string, signal?: AbortSignal): Promise<IndexedObservation[]> {
      // A cache of the owned units only answers sharded work (whose reads are of owned units); others LIST.
      const c = cache?.partial && !shardWork.getStore() ? undefined : await syncedCache(signal);
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
      return (await fenced(o, decisions.phase(phase, reason, o, Date.now), signal)).outcome;
    },
    async setMissing(o, since, signal) {
      const r = await fenced(o, decisions.missing(since), signal);
      return r.state && r.outcome !== 'fenced' ? { ...o, ...indexed(r.state as Obs), scope: o.scope } : undefined;
    },
  };
}
