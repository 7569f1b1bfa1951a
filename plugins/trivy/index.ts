/**
 * The `trivy` source plugin: Trivy Operator reports (`aquasecurity.github.io/v1alpha1` VulnerabilityReport and,
 * when enabled, ConfigAuditReport, ExposedSecretReport, ClusterVulnerabilityReport, ClusterConfigAuditReport)
 * become one Observation per finding, resolved when the finding goes away. Informer source, leader only.
 *
 * index.ts wires the hooks; controller.ts runs the informers and reconciliation; map.ts / identity.ts are the pure
 * mapping. Decisions are documented in README.md.
 */
import { definePlugin } from 'zen-watcher/plugin-api';
import type { TrivyConfig } from './config.ts';
import { TrivyController } from './controller.ts';

export const PLUGIN_NAME = 'trivy';

// The host validates spec.config against schema.json and applies its defaults: TrivyConfig is derived from it.
export default definePlugin<TrivyConfig>({
  name: PLUGIN_NAME,
  register(api) {
    // The host's namespace restriction (see controller.ts, "Informer partitions"); plugin API 1.1.0.
    const watchNamespaces = api.kube?.watchNamespaces ?? [];
    // Plugin API 1.2.0: the host starts, restarts and stops one run per trivy Ingester on the leader.
    new TrivyController(api, { watchNamespaces }).register();
  },
});
