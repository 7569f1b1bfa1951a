/**
 * The read index's Kubernetes feed (see feeds.ts): a module of its own so that standalone never loads client-node.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeApi } from '../kube/api.ts';
import { createInformer, type InformerMetrics, type KubeLog } from '../kube/informer.ts';
import { OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import type { Feed } from './feeds.ts';
import { type Entry, type ObservationDoc, type ReadIndex, toEntry } from './index.ts';
import { type PreviousBucketStats, withIndexedPreviousBucket } from './previous-bucket.ts';

interface Slim {
  metadata: { name: string; namespace: string; uid?: string; resourceVersion?: string };
  entry: Entry | undefined;
}

/**
 * Kubernetes: one informer per watched namespace (or one cluster-wide) over all Observations, started at the first
 * use (`activate()`): the first read API request, the first previous-bucket question of a deduplicated write
 * (webhook sources), or, earlier, the host applying such an Ingester (ReadSide.prepare, ADR 0033). Until then the
 * replica holds none of it — the index is a copy of every Observation in the cluster (about 2 KB each), the same
 * on every replica whatever its shard share, so an eager one made a sharded replica's memory grow with the cluster's
 * findings instead of its share (ADR 0027). Once started it runs until
 * close(); until its first list completes, reads answer 503 (retry) and the previous bucket is read from the API.
 */
export function kubeFeed(
  index: ReadIndex,
  deps: {
    kubeConfig: KubeConfig;
    api: KubeApi;
    namespaces: readonly string[];
    log: KubeLog;
    metrics?: InformerMetrics;
    onSynced?: () => void;
    previousBucket?: PreviousBucketStats;
    /** Start the watch now, not at the first use (tests). */
    eager?: boolean;
  },
): Feed {
  const stop = new AbortController();
  const scopes = deps.namespaces.length ? deps.namespaces : [undefined];
  const listed = new Set<string>();
  const transform = (obj: unknown): Slim => {
    const o = obj as ObservationDoc & {
      metadata: { uid?: string; resourceVersion?: string; creationTimestamp?: string };
    };
    const created = Date.parse(o.metadata?.creationTimestamp ?? '');
    return {
      metadata: {
        name: o.metadata?.name as string,
        namespace: o.metadata?.namespace as string,
        ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}),
        ...(o.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
      },
      // expiresAt only in standalone: the GC deletes here, and the watch reports it.
      entry: toEntry(o, Number.isNaN(created) ? undefined : created),
    };
  };
  const put = (o: Slim) => {
    if (o.entry) index.upsert(o.entry.expiresAt === undefined ? o.entry : { ...o.entry, expiresAt: undefined });
  };
  let active = false;
  const activate = () => {
    if (active || stop.signal.aborted) return;
    active = true;
    for (const ns of scopes) start(ns);
  };
  const start = (ns: string | undefined) => {
    void createInformer<Slim>(
      deps.kubeConfig,
      {
        group: OBSERVATION_GVR.group,
        version: OBSERVATION_GVR.version,
        resource: OBSERVATION_GVR.plural,
        ...(ns ? { namespace: ns } : {}),
        signal: stop.signal,
      },
      {
        add: put,
        update: put,
        delete: (o) => index.delete(`${o.metadata.namespace}/${o.metadata.name}`),
        synced: () => {
          listed.add(ns ?? '');
          if (listed.size === scopes.length && !index.synced) {
            index.markSynced();
            deps.onSynced?.();
          }
        },
      },
      { log: deps.log, transform, ...(deps.metrics ? { metrics: deps.metrics } : {}) },
    ).catch((err) => deps.log.error({ err: (err as Error).message }, 'read index informer stopped'));
  };
  if (deps.eager) activate();
  return {
    activate,
    async getDoc(namespace, name) {
      try {
        const o = await deps.api.get<{ metadata?: { managedFields?: unknown } }>({
          group: OBSERVATION_GVR.group,
          version: OBSERVATION_GVR.version,
          plural: OBSERVATION_GVR.plural,
          namespace,
          name,
        });
        if (o.metadata) delete o.metadata.managedFields;
        return o;
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    wrap: (sink) => withIndexedPreviousBucket(sink, index, deps.namespaces, deps.previousBucket, activate),
    close: () => stop.abort(),
  };
}
