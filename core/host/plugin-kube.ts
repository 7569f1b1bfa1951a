/**
 * The Kubernetes facade plugins get (`api.kube`, kubernetes mode): informers scoped to WATCH_NAMESPACE — one watch
 * per watched namespace, or one cluster-wide — with `zen_watcher_informer_synced`/`_last_sync` per resource.
 *
 * Sharded (ADR 0020): an informer opened inside a leader-work run of a sharded replica (core/shard/context.ts) keeps
 * only objects of units the run owns — dropped before the plugin's transform and the store, so they cost no memory
 * — and is not opened at all where it could only see units of others (a namespace it does not own, a cluster-scoped
 * resource without the cluster unit): it then reports an empty complete list and waits for the run to end.
 * A cluster-wide informer of a namespaced resource is run as one informer per owned namespace instead (ADR 0025,
 * core/shard/namespaces.ts), so the replica lists and watches only its share.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { GetOptions, InformerEvents, InformerOptions, PluginKube } from '../api/index.ts';
import { zwError } from '../api/index.ts';
import { hasResource, resourceScope } from '../kube/client.ts';
import { createInformer } from '../kube/informer.ts';
import { KubeConnection, resourcePath, statusOf } from '../kube/request.ts';
import { metaOf } from '../kube/store.ts';
import { type ShardWork, shardWork } from '../shard/context.ts';
import {
  DEFAULT_NAMESPACE_WATCHES,
  ListGate,
  NAMESPACE_LIST_CONCURRENCY,
  NamespaceSet,
  watchOwnedNamespaces,
} from '../shard/namespaces.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { pluginInformerTiming, pluginTransform } from './plugin-informer.ts';

export interface InformerMetrics {
  restarts(gvr: string, reason?: string): void;
  relistDiff(gvr: string, n: number): void;
  transformError(gvr: string): void;
}

export function informerMetrics(metrics: Metrics): InformerMetrics {
  return {
    restarts: (gvr, reason) => metrics.informerRestarts.inc({ gvr, reason: reason ?? 'error' }),
    relistDiff: (gvr, n) => metrics.informerRelistDiff.inc({ gvr }, n),
    transformError: (gvr) => metrics.informerTransformErrors.inc({ gvr }),
  };
}

export function createPluginKube(deps: {
  kc: KubeConfig;
  log: Logger;
  metrics: Metrics;
  /** WATCH_NAMESPACE; empty = every namespace. */
  watched: readonly string[];
  /** Sharded: most owned namespaces watched one by one per informer (ZEN_SHARD_NAMESPACE_WATCHES, ADR 0025). */
  namespaceWatches?: number;
  /** Ends the namespace watch of sharded informers (the host stops). */
  signal?: AbortSignal;
}): PluginKube {
  const { kc, log, metrics, watched } = deps;
  const counters = informerMetrics(metrics);
  let conn: KubeConnection | undefined;
  const cap = deps.namespaceWatches ?? DEFAULT_NAMESPACE_WATCHES;
  let namespaces: NamespaceSet | undefined;
  const gate = new ListGate(NAMESPACE_LIST_CONCURRENCY);
  return Object.freeze({
    informer: async <T>(options: InformerOptions, plugin: InformerEvents<T>) => {
      // zen_watcher_informer_synced: 0 from the start until the plugin handled the first complete list, 0 once stopped.
      const gvr = `${options.group || 'core'}/${options.version}/${options.resource}`;
      metrics.informerSynced.set({ gvr }, 0);
      options.signal.addEventListener('abort', () => metrics.informerSynced.set({ gvr }, 0), { once: true });
      const events: InformerEvents<T> = {
        ...plugin,
        synced: async (objects: T[]) => {
          try {
            await plugin.synced?.(objects);
          } finally {
            // After the plugin handled the complete list: "caught up", not only "listed".
            metrics.informerSynced.set({ gvr }, 1);
            metrics.informerLastSync.set({ gvr }, Date.now() / 1000);
          }
        },
      };
      // The plugin's transform (plugin API 1.2.0) keeps only what it reconciles; lists come in pages sized by bytes.
      const work = shardWork.getStore();
      const transform = work ? ownedOnly(work, pluginTransform(options)) : pluginTransform(options);
      // Sharded: nothing to watch where only other replicas' units are.
      const nothing = async (): Promise<void> => {
        await events.synced?.([]);
        await untilAborted(options.signal);
      };
      const informerDeps = {
        log: log.child({ informer: `${options.group}/${options.version}/${options.resource}` }),
        metrics: counters,
        timing: pluginInformerTiming,
        ...(transform ? { transform } : {}),
      };
      if (options.namespace !== undefined && options.namespace !== '') {
        if (watched.length && !watched.includes(options.namespace)) {
          throw zwError('ZW_ERR_NAMESPACE_NOT_WATCHED', {
            namespace: options.namespace,
            watched: watched.join(','),
          });
        }
        if (work && !work.owns(options.namespace)) return nothing();
        return createInformer<T>(kc, options, events, informerDeps);
      }
      if (watched.length === 0 && !work) return createInformer<T>(kc, options, events, informerDeps);
      // Cluster-scoped resources have no namespaces to split by: one cluster-wide watch (RBAC permitting).
      const scope = await resourceScope(kc, options.group, options.version, options.resource).catch(
        () => 'namespaced' as const,
      );
      if (scope === 'cluster') {
        if (work && !work.owns('')) return nothing();
        return createInformer<T>(kc, options, events, informerDeps);
      }
      if (watched.length === 0) {
        if (!work || cap === 0) return createInformer<T>(kc, options, events, informerDeps);
        // Sharded, cluster-wide: one informer per owned namespace (ADR 0025), cluster-wide past the cap.
        namespaces ??= new NamespaceSet(kc, {
          log: log.child({ informer: 'core/v1/namespaces' }),
          metrics: counters,
          signal: deps.signal ?? new AbortController().signal,
        });
        return watchOwnedNamespaces<T>(options, events, work, {
          namespaces,
          cap,
          gate,
          log: informerDeps.log,
          metrics: {
            watches: (g, d) => metrics.shardNamespaceWatches.inc({ gvr: g }, d),
            fallback: (g, reason) => metrics.shardInformerFallbacks.inc({ gvr: g, reason }),
          },
          open: (ns, nsEvents, signal) =>
            createInformer<T>(kc, { ...options, namespace: ns, signal }, nsEvents, {
              ...informerDeps,
              listGate: gate.acquire,
            }),
          clusterWide: () => createInformer<T>(kc, options, events, informerDeps),
        });
      }
      const mine = work ? watched.filter((ns) => work.owns(ns)) : watched;
      if (mine.length === 0) return nothing();
      // One watch per watched namespace, but `synced` keeps its meaning — every object in scope — so a plugin that
      // reconciles on it never resolves another namespace's findings: it fires with the union once all have listed.
      const latest = new Map<string, T[]>();
      const perNamespace = (ns: string): InformerEvents<T> =>
        events.synced
          ? {
              ...events,
              synced: async (objects: T[]) => {
                latest.set(ns, objects);
                if (latest.size === mine.length) await events.synced!([...latest.values()].flat());
              },
            }
          : events;
      await Promise.all(
        mine.map((ns) => createInformer<T>(kc, { ...options, namespace: ns }, perNamespace(ns), informerDeps)),
      );
    },
    hasResource: (group: string, version: string, resource: string) => hasResource(kc, group, version, resource),
    get: async (options: GetOptions) => {
      if (typeof options?.name !== 'string' || options.name === '')
        throw zwError('ZW_ERR_INVALID_ARGUMENT', { detail: 'get: options.name is empty' });
      if (options.namespace && watched.length && !watched.includes(options.namespace)) {
        throw zwError('ZW_ERR_NAMESPACE_NOT_WATCHED', { namespace: options.namespace, watched: watched.join(',') });
      }
      // One kept-alive connection for every plugin read (created on first use).
      conn ??= new KubeConnection(kc, { requestTimeoutMs: 30_000, userAgent: 'zen-watcher/plugin-get' });
      try {
        return await conn.json<Record<string, unknown>>({
          path: resourcePath(options),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    watchNamespaces: Object.freeze([...watched]),
  });
}

/** Sharded: objects of units the run does not own are dropped (undefined) before the plugin's transform. */
function ownedOnly(work: ShardWork, transform: ((obj: unknown) => unknown) | undefined): (obj: unknown) => unknown {
  return (obj: unknown) => {
    const ns = metaOf(obj).namespace;
    if (!work.owns(ns)) return undefined;
    work.kept(ns);
    return transform ? transform(obj) : obj;
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
