/**
 * Turns validated Ingesters into the set this replica runs: rejects a webhook path already served by another
 * Ingester (the first by namespace/name order keeps it), and reports why each rejected one was rejected.
 */
import type { FieldError, IngesterConfig } from './validate.ts';

export interface Rejected {
  key: string;
  source: string;
  reason: 'InvalidConfig' | 'PluginMissing' | 'Conflict' | 'NeedsKubernetes';
  errors: FieldError[];
}

export function resolveConflicts(valid: IngesterConfig[]): { active: IngesterConfig[]; rejected: Rejected[] } {
  const byPath = new Map<string, IngesterConfig>();
  const active: IngesterConfig[] = [];
  const rejected: Rejected[] = [];
  // Keys are `namespace/name` of DNS labels ([a-z0-9-] and one '/'), where code-unit order is the order
  // localeCompare gave; localeCompare would map about 2 MB of ICU collation data at every start (idle RSS).
  for (const ing of [...valid].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const path = ing.spec.webhook?.path;
    if (path !== undefined) {
      const owner = byPath.get(path);
      if (owner) {
        rejected.push({
          key: ing.key,
          source: ing.spec.source,
          reason: 'Conflict',
          errors: [{ path: 'spec.webhook.path', message: `'${path}' is already served by Ingester ${owner.key}` }],
        });
        continue;
      }
      byPath.set(path, ing);
    }
    active.push(ing);
  }
  return { active, rejected };
}
