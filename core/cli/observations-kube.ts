/**
 * `zen-watcher observations list` in Kubernetes mode: the Observations of the cluster (KUBECONFIG, or in-cluster
 * credentials), all namespaces or WATCH_NAMESPACE's, filtered on the server by the `source` / `severity` labels
 * (the labels work on every Kubernetes version; `kubectl --field-selector` needs 1.32+).
 */
import type { HostEnv } from '../config/env.ts';
import { createKubeApi } from '../kube/api.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import type { StoredObservation } from '../sinks/sqlite-store.ts';

interface KubeObservation {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec: StoredObservation['spec'];
  status?: StoredObservation['status'];
}

export async function listKubeObservations(
  env: Readonly<HostEnv>,
  opts: { source?: string | undefined; severity?: string | undefined; limit: number },
): Promise<StoredObservation[]> {
  const kc = loadKubeConfig({
    ...(env.kubeconfig ? { kubeconfigPath: env.kubeconfig } : {}),
    inCluster: env.inCluster && !env.kubeconfig,
  });
  const api = createKubeApi(kc);
  const labelSelector = [
    ...(opts.source ? [`source=${opts.source}`] : []),
    ...(opts.severity ? [`severity=${opts.severity}`] : []),
  ].join(',');
  const out: StoredObservation[] = [];
  try {
    for (const namespace of env.watchNamespaces.length ? env.watchNamespaces : [undefined]) {
      let cont: string | undefined;
      do {
        const page = await api.list<KubeObservation>({
          ...OBSERVATION_GVR,
          ...(namespace ? { namespace } : {}),
          ...(labelSelector ? { labelSelector } : {}),
          limit: Math.min(500, opts.limit),
          ...(cont ? { continue: cont } : {}),
        });
        for (const o of page.items) {
          out.push({
            name: o.metadata.name,
            namespace: o.metadata.namespace,
            labels: o.metadata.labels ?? {},
            annotations: o.metadata.annotations ?? {},
            spec: o.spec,
            ...(o.status ? { status: o.status } : {}),
            createdAt: o.metadata.creationTimestamp ?? '',
          });
        }
        cont = page.metadata.continue || undefined;
      } while (cont && out.length < opts.limit);
    }
  } finally {
    await api.close();
  }
  return out
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name))
    .slice(0, opts.limit);
}
