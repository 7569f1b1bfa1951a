/**
 * Routing: which Observations go to which Destination. An Ingester's `spec.destinations` items of type
 * `destination` are "uses" of a Destination, each with its own filters; an Observation matches a Destination when
 * the Ingester that wrote it has a use of that Destination whose filters all pass. Pure functions.
 */
import type { Observation, Severity } from '../api/index.ts';
import type { DestinationUse, IngesterConfig } from '../config/validate.ts';

/** One use of a Destination by one Ingester, filters included. */
export interface Route {
  /** namespace/name of the Ingester. */
  readonly ingester: string;
  readonly minSeverity?: Severity;
  readonly sources?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly categories?: readonly string[];
}

const RANK: Record<Severity, number> = { critical: 4, high: 3, medium: 2, low: 1, info: 0 };

/** The severities at least as severe as `min`. */
export function severitiesFrom(min: Severity): Severity[] {
  return (Object.keys(RANK) as Severity[]).filter((s) => RANK[s] >= RANK[min]);
}

export const INGESTER_LABEL = 'zen.kube-zen.io/ingester';
export const INGESTER_NS_LABEL = 'zen.kube-zen.io/ingester-namespace';

export function ingesterOf(obs: Pick<Observation, 'labels'>): string {
  return `${obs.labels[INGESTER_NS_LABEL] ?? ''}/${obs.labels[INGESTER_LABEL] ?? ''}`;
}

export function routeMatches(route: Route, obs: Pick<Observation, 'labels' | 'namespace' | 'spec'>): boolean {
  if (ingesterOf(obs) !== route.ingester) return false;
  if (route.minSeverity && RANK[obs.spec.severity] < RANK[route.minSeverity]) return false;
  if (route.sources?.length && !route.sources.includes(obs.spec.source)) return false;
  if (route.namespaces?.length && !route.namespaces.includes(obs.namespace)) return false;
  if (route.categories?.length && !route.categories.includes(obs.spec.category)) return false;
  return true;
}

export function matchesAny(routes: readonly Route[], obs: Pick<Observation, 'labels' | 'namespace' | 'spec'>) {
  return routes.some((r) => routeMatches(r, obs));
}

/** Destination key (namespace/name) → its routes, from the active Ingesters. */
export function routesByDestination(ingesters: readonly IngesterConfig[]): Map<string, Route[]> {
  const out = new Map<string, Route[]>();
  for (const ing of ingesters) {
    for (const use of ing.spec.destinations ?? []) {
      if (use.type !== 'destination' || !use.name) continue;
      const key = `${use.namespace ?? ing.namespace}/${use.name}`;
      const list = out.get(key) ?? [];
      list.push(toRoute(ing.key, use));
      out.set(key, list);
    }
  }
  return out;
}

function toRoute(ingester: string, use: DestinationUse): Route {
  return {
    ingester,
    ...(use.minSeverity ? { minSeverity: use.minSeverity } : {}),
    ...(use.sources?.length ? { sources: use.sources } : {}),
    ...(use.namespaces?.length ? { namespaces: use.namespaces } : {}),
    ...(use.categories?.length ? { categories: use.categories } : {}),
  };
}
