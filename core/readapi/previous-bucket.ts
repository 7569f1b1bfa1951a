/**
 * Kubernetes mode: the sliding dedup window's question — "was this finding recorded in the previous bucket less than
 * a window ago?" — answered from the replica's read index (its watch of every Observation, feeds-kube.ts) instead of
 * a GET before every create. A new finding then costs one API round trip (the create; 409 is a duplicate) instead of
 * two, and no 404 (issue #18).
 *
 * Used only while the index is synced and covers the namespace; otherwise the sink's own GET decides, as before. The
 * index trails the API server by the watch's latency, so a repeat that reaches another replica within that latency
 * of the first copy's create, across a bucket edge, can make a second Observation: the same class of race the
 * design already accepts between replicas (deterministic names, no locks; ADR 0001). The same event always maps to
 * the same bucket, so retries and resends are still exactly one Observation (create → 409).
 */
import type { ObservationSink } from '../sinks/types.ts';
import type { ReadIndex } from './index.ts';

export interface PreviousBucketStats {
  /** Previous bucket answered from the index: found recent (duplicate) or absent (create straight away). */
  fromIndex(outcome: 'duplicate' | 'absent'): void;
  /** Index not synced or not covering the namespace: the sink reads the previous bucket itself. */
  fromApi(): void;
}

export function withIndexedPreviousBucket(
  sink: ObservationSink,
  index: ReadIndex,
  namespaces: readonly string[],
  stats?: PreviousBucketStats,
  /** Starts the index if it is built on first use (feeds-kube.ts); this write still asks the API. */
  activate?: () => void,
): ObservationSink {
  const covered = (ns: string) => namespaces.length === 0 || namespaces.includes(ns);
  const write: ObservationSink['write'] = (obs, previous, options) => {
    if (!previous) return sink.write(obs, previous, options);
    activate?.();
    if (!index.synced || !covered(obs.namespace)) {
      stats?.fromApi();
      return sink.write(obs, previous, options);
    }
    const e = index.get(obs.namespace, previous.name);
    if (e && e.detectedAt > previous.notBefore) {
      stats?.fromIndex('duplicate');
      options?.onStored?.({ namespace: obs.namespace, name: previous.name });
      return Promise.resolve('duplicate');
    }
    stats?.fromIndex('absent');
    return sink.write(obs, undefined, options);
  };
  // Every other member passes through (readiness, reasons, occurrences, anything added later).
  return new Proxy(sink, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
