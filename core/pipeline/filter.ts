/**
 * Ingester `spec.filters`, compiled once per Ingester generation into one function. Every field of the schema
 * is honoured (the Go original extracted most of them and applied none). Comparisons are case-insensitive.
 * Returns the drop reason (the upstream reason names), or undefined to keep the draft.
 */
import type { Severity } from '../api/index.ts';
import { type NormalizedDraft, SEVERITY_RANK } from './normalize.ts';

export interface FilterSpec {
  enabled?: boolean;
  minSeverity?: string;
  includeSeverity?: string[];
  includeNamespaces?: string[];
  excludeNamespaces?: string[];
  includeKinds?: string[];
  excludeKinds?: string[];
  ignoreKinds?: string[];
  includeCategories?: string[];
  excludeCategories?: string[];
  includeEventTypes?: string[];
  excludeEventTypes?: string[];
  excludeRules?: string[];
}

export type DraftFilter = (draft: NormalizedDraft) => string | undefined;

const lowerSet = (list: string[] | undefined) =>
  list && list.length > 0 ? new Set(list.map((s) => s.toLowerCase())) : undefined;

export function compileFilter(spec: FilterSpec | undefined): DraftFilter {
  if (!spec || spec.enabled === false) return () => undefined;
  const minRank = spec.minSeverity ? SEVERITY_RANK[spec.minSeverity.toLowerCase() as Severity] : undefined;
  const includeSeverity = lowerSet(spec.includeSeverity);
  const incNs = lowerSet(spec.includeNamespaces);
  const excNs = lowerSet(spec.excludeNamespaces);
  const incKind = lowerSet(spec.includeKinds);
  const excKind = lowerSet([...(spec.excludeKinds ?? []), ...(spec.ignoreKinds ?? [])]);
  const incCat = lowerSet(spec.includeCategories);
  const excCat = lowerSet(spec.excludeCategories);
  const incType = lowerSet(spec.includeEventTypes);
  const excType = lowerSet(spec.excludeEventTypes);
  const excRule = lowerSet(spec.excludeRules);

  return (d) => {
    if (includeSeverity) {
      if (!includeSeverity.has(d.severity)) return 'include_severity';
    } else if (minRank !== undefined && SEVERITY_RANK[d.severity] < minRank) return 'min_severity';
    const type = d.eventType.toLowerCase();
    if (excType?.has(type)) return 'exclude_event_type';
    if (incType && !incType.has(type)) return 'include_event_type';
    // A finding without a namespace (cluster-scoped, host-level) never matches an include list.
    const ns = (d.resource?.namespace ?? '').toLowerCase();
    if (excNs?.has(ns)) return 'exclude_namespace';
    if (incNs && !incNs.has(ns)) return 'include_namespace';
    const kind = (d.resource?.kind ?? '').toLowerCase();
    if (excKind?.has(kind)) return 'exclude_kind';
    if (incKind && !incKind.has(kind)) return 'include_kind';
    if (excCat?.has(d.category)) return 'exclude_category';
    if (incCat && !incCat.has(d.category)) return 'include_category';
    const rule = d.details?.rule;
    if (excRule && typeof rule === 'string' && excRule.has(rule.toLowerCase())) return 'exclude_rule';
    return undefined;
  };
}
