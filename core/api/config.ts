/**
 * What every plugin's `spec.config` means the same way (plugin API 1.2.0): `namespaces` and `minSeverity`. The
 * schema fragments are registered in the host's validator under PLUGIN_CONFIG_SCHEMA_ID, so a plugin's schema.json
 * uses them by reference (`"$ref": "https://kube-zen.io/schemas/zen-watcher/plugin-config.json#/$defs/namespaces"`),
 * with its own `default` beside the `$ref`; the helpers apply them.
 */
import { SEVERITIES, type Severity } from './types.ts';

export const PLUGIN_CONFIG_SCHEMA_ID = 'https://kube-zen.io/schemas/zen-watcher/plugin-config.json';

/** The shared fragments (JSON Schema `$defs`). Add it to your own Ajv to compile a schema that uses them. */
export const pluginConfigSchema = {
  $id: PLUGIN_CONFIG_SCHEMA_ID,
  $defs: {
    namespaces: {
      type: 'array',
      items: { type: 'string', minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
      uniqueItems: true,
      maxItems: 256,
      description:
        'Use only namespaced objects in these namespaces; [] = every namespace the Ingester watches (spec.informer.namespace, else the host WATCH_NAMESPACE, else all). Cluster-scoped objects are not affected.',
    },
    minSeverity: {
      type: 'string',
      enum: ['critical', 'high', 'medium', 'low', 'info', 'CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'],
      description:
        'Least severe finding kept, compared after the severity mapping of the plugin (critical > high > medium > low > info; any case). Less severe findings are skipped and counted (reason below_min_severity); an Observation of a finding now skipped resolves.',
    },
  },
} as const;

/** 1 (info) … 5 (critical); 0 for anything that is not a severity. */
export function severityRank(severity: string): number {
  const i = SEVERITIES.indexOf(severity.toLowerCase() as Severity);
  return i < 0 ? 0 : SEVERITIES.length - i;
}

/** `config.minSeverity`: is `severity` at least `min` (any case)? A `min` that is no severity name keeps all. */
export function severityAtLeast(severity: Severity, min: string): boolean {
  return severityRank(severity) >= severityRank(min);
}

/**
 * `config.namespaces` as namespaces to watch, given the Ingester's own restriction (`spec.informer.namespace`):
 * `[]` = every namespace the Ingester watches, `'none'` = the two do not overlap (no namespaced object is used).
 */
export function namespacesInScope(configured: readonly string[], informerNamespace?: string): string[] | 'none' {
  if (!informerNamespace) return [...configured];
  if (configured.length === 0) return [informerNamespace];
  return configured.includes(informerNamespace) ? [informerNamespace] : 'none';
}

/** `config.namespaces` as a filter: is a namespaced object in `namespace` used? (`[]` = every namespace.) */
export function inNamespaces(configured: readonly string[], namespace: string): boolean {
  return configured.length === 0 || configured.includes(namespace);
}
