/** The resolver's view of Observations in Kubernetes: label-selected lists, and status writes via /status. */
import type { IngesterConfig } from '../config/validate.ts';
import type { KubeApi } from '../kube/api.ts';
import { OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import { type IndexedObservation, type ObservationIndex, SCOPE_LABEL } from './resolver.ts';

interface Obs {
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  status?: { phase?: string };
}

export function kubeObservationIndex(
  api: KubeApi,
  namespaces: readonly string[],
  canAct: () => boolean,
): ObservationIndex {
  const gvr = { group: OBSERVATION_GVR.group, version: OBSERVATION_GVR.version, plural: OBSERVATION_GVR.plural };
  return {
    async list(ingester: IngesterConfig, scope?: string, signal?: AbortSignal): Promise<IndexedObservation[]> {
      const selector = [
        `zen.kube-zen.io/ingester=${ingester.name}`,
        `zen.kube-zen.io/ingester-namespace=${ingester.namespace}`,
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
            out.push({
              name: o.metadata.name,
              namespace: o.metadata.namespace,
              phase: o.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
              scope: o.metadata.labels?.[SCOPE_LABEL] ?? '',
            });
          }
          cont = page.metadata.continue || undefined;
        } while (cont);
      }
      return out;
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
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
      }
    },
  };
}
