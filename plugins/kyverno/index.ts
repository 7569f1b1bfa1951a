/**
 * The `kyverno` source plugin: policy reports (wgpolicyk8s.io/v1alpha2 PolicyReport and ClusterPolicyReport,
 * openreports.io/v1alpha1 Report and ClusterReport) written by Kyverno or any other policy engine become
 * Observations. Informer source, leader only: the host runs one IngesterRunner per Ingester (api.leaderWork).
 * Mapping (map.ts) and the per-Ingester watch and resolution (watch.ts) are documented in README.md.
 */
import { definePlugin, ingesterKey } from 'zen-watcher/plugin-api';
import type { KyvernoConfig } from './map.ts';
import { createMetrics, IngesterRunner } from './watch.ts';

export const PLUGIN_NAME = 'kyverno';
export const HANDLER = 'kyverno';

// The host validates spec.config against schema.json and applies its defaults: KyvernoConfig is derived from it.
export default definePlugin<KyvernoConfig>({
  name: PLUGIN_NAME,
  register(api) {
    const metrics = createMetrics(api);
    // The host's namespace restriction (plugin API 1.1.0): it scopes every plugin informer to these namespaces, so
    // cluster-scoped report kinds cannot be listed (see README, Limitations).
    const watchNamespaces = api.kube?.watchNamespaces ?? [];
    const log = api.log.child({ handler: HANDLER });
    // Plugin API 1.2.0: the host starts a run per kyverno informer Ingester on the leader, restarts it when the
    // Ingester changes and stops it when the Ingester goes or the term ends.
    api.leaderWork({
      handler: HANDLER,
      start(view, run) {
        log.info('watching policy reports', { ingester: ingesterKey(view) });
        new IngesterRunner(view, api, metrics, run, { watchNamespaces }).start();
      },
    });
  },
});
