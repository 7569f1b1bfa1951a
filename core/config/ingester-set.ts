/**
 * Turns validated Ingesters into the set this replica runs: rejects a second Ingester with the same namespace/name
 * (files only: the first in file and document order keeps it) and a webhook path already served by another Ingester
 * (the first by namespace/name order keeps it), and reports why each rejected one was rejected.
 */
import type { FieldError, IngesterConfig } from './validate.ts';

export interface Rejected {
  key: string;
  source: string;
  reason: 'InvalidConfig' | 'PluginMissing' | 'Conflict' | 'NeedsKubernetes';
  errors: FieldError[];
  /** Where the rejected definition came from (`file` or `file#2`), when the caller said. */
  origin?: string;
}

/**
 * `valid` in load order: files in the order read, documents in file order. `origins`, parallel to `valid` and
 * optional, says where each came from; the messages then name the definition that was kept.
 */
export function resolveConflicts(
  valid: IngesterConfig[],
  origins?: readonly (string | undefined)[],
): { active: IngesterConfig[]; rejected: Rejected[] } {
  const byKey = new Map<string, number>();
  const byPath = new Map<string, IngesterConfig>();
  const active: IngesterConfig[] = [];
  const rejected: Rejected[] = [];
  const reject = (i: number, error: FieldError) => {
    const ing = valid[i]!;
    const origin = origins?.[i];
    rejected.push({
      key: ing.key,
      source: ing.spec.source,
      reason: 'Conflict',
      errors: [error],
      ...(origin !== undefined ? { origin } : {}),
    });
  };
  for (const i of loadOrderByKey(valid)) {
    const ing = valid[i]!;
    // Two files defining the same Ingester (a copied file, a renamed copy left behind): without this the later one
    // silently replaced the earlier one. A Kubernetes API server never holds two, so this is for files.
    const first = byKey.get(ing.key);
    if (first !== undefined) {
      reject(i, { path: 'metadata.name', message: duplicateMessage(ing.key, origins?.[first]) });
      continue;
    }
    byKey.set(ing.key, i);
    const path = ing.spec.webhook?.path;
    if (path !== undefined) {
      const owner = byPath.get(path);
      if (owner) {
        reject(i, { path: 'spec.webhook.path', message: `'${path}' is already served by Ingester ${owner.key}` });
        continue;
      }
      byPath.set(path, ing);
    }
    active.push(ing);
  }
  return { active, rejected };
}

/**
 * Indexes of `valid` by namespace/name; equal keys keep their load order (Array.prototype.sort is stable), so the
 * first definition read is the one kept. Keys are `namespace/name` of DNS labels ([a-z0-9-] and one '/'), where
 * code-unit order is the order localeCompare gave; localeCompare would map about 2 MB of ICU collation data at every
 * start (idle RSS).
 */
function loadOrderByKey(valid: readonly IngesterConfig[]): number[] {
  return valid
    .map((_, i) => i)
    .sort((a, b) => {
      const ka = valid[a]!.key;
      const kb = valid[b]!.key;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
}

/** Without the origins the caller may print this at either definition, so the message then names neither. */
function duplicateMessage(key: string, keptOrigin: string | undefined): string {
  const rule = 'the first definition read (files in order, documents in file order) is used';
  return keptOrigin !== undefined
    ? `Ingester ${key} is already defined in ${keptOrigin}; ${rule} and this one is ignored: rename one or remove the copy`
    : `Ingester ${key} is defined more than once; ${rule} and the others are ignored: rename one or remove the copy`;
}
