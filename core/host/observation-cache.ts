/**
 * The leader's watch-fed cache of Observations (kube-index.ts): per Ingester and scope label, the identity, phase and
 * content hash of each Observation that carries a scope label, and nothing else of it (`slim`): the informer's store
 * would otherwise hold every full Observation for the whole term.
 */
import { CONTENT_HASH_ANNOTATION } from '../pipeline/pipeline.ts';
import { missingSinceOf } from './fenced-status.ts';
import { type IndexedObservation, SCOPE_LABEL } from './observation-index.ts';

export const INGESTER_LABEL = 'zen.kube-zen.io/ingester';
export const INGESTER_NS_LABEL = 'zen.kube-zen.io/ingester-namespace';

export interface Obs {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: Record<string, unknown>;
  status?: { phase?: string; missingSince?: string };
}

export const hashOf = (o: Obs) => o.metadata.annotations?.[CONTENT_HASH_ANNOTATION];
/** The namespace of the resource the finding is about ('' when cluster-scoped): its shard unit (ADR 0020). */
export const resourceNsOf = (o: Obs): string => {
  const ns = (o.spec?.resource as { namespace?: unknown } | undefined)?.namespace;
  return typeof ns === 'string' ? ns : '';
};

/** Ingester key → scope label → `namespace/name` → Observation. */
type Entries = Map<string, Map<string, Map<string, IndexedObservation>>>;

export class ObservationCache {
  readonly entries: Entries = new Map();
  /** Holds only the owned units' Observations (sharded, ADR 0020). */
  partial = false;
  /** `namespace/name` → where it is filed, to move or drop it on update/delete. */
  readonly #where = new Map<string, { ingester: string; scope: string }>();
  readonly ready: Promise<void>;
  synced = false;
  #markReady!: () => void;

  constructor() {
    this.ready = new Promise((r) => (this.#markReady = r));
  }

  markSynced(): void {
    this.synced = true;
    this.#markReady();
  }

  get size(): number {
    return this.#where.size;
  }

  upsert(o: Obs): void {
    const labels = o.metadata.labels ?? {};
    const ingester = `${labels[INGESTER_NS_LABEL] ?? ''}/${labels[INGESTER_LABEL] ?? ''}`;
    const scope = labels[SCOPE_LABEL] ?? '';
    const key = `${o.metadata.namespace}/${o.metadata.name}`;
    this.remove(key);
    this.#file(ingester, scope, key, indexed(o));
  }

  #file(ingester: string, scope: string, key: string, entry: IndexedObservation): void {
    const scopes = this.entries.get(ingester) ?? new Map<string, Map<string, IndexedObservation>>();
    this.entries.set(ingester, scopes);
    const items = scopes.get(scope) ?? new Map<string, IndexedObservation>();
    scopes.set(scope, items);
    items.set(key, entry);
    this.#where.set(key, { ingester, scope });
  }

  remove(key: string): void {
    const w = this.#where.get(key);
    if (!w) return;
    this.#where.delete(key);
    const scopes = this.entries.get(w.ingester);
    const items = scopes?.get(w.scope);
    items?.delete(key);
    if (items?.size === 0) scopes?.delete(w.scope);
    if (scopes?.size === 0) this.entries.delete(w.ingester);
  }

  list(ingester: string, scope?: string): IndexedObservation[] {
    const scopes = this.entries.get(ingester);
    if (!scopes) return [];
    const pick = scope === undefined ? [...scopes.values()] : [scopes.get(scope) ?? new Map()];
    return pick.flatMap((items) => [...items.values()].map((e) => ({ ...e })));
  }

  /** Our own write, before the watch delivers it: filed as Active unless the cache already has it. */
  noteStored(ingester: string, scope: string, namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (!this.#where.has(key)) this.#file(ingester, scope, key, { name, namespace, phase: 'Active', scope });
  }

  setContentHash(o: IndexedObservation, hash: string): void {
    const w = this.#where.get(`${o.namespace}/${o.name}`);
    const e = w && this.entries.get(w.ingester)?.get(w.scope)?.get(`${o.namespace}/${o.name}`);
    if (e) e.contentHash = hash;
  }

  setPhase(o: IndexedObservation, phase: 'Active' | 'Resolved'): void {
    const w = this.#where.get(`${o.namespace}/${o.name}`);
    const e = w && this.entries.get(w.ingester)?.get(w.scope)?.get(`${o.namespace}/${o.name}`);
    if (e) e.phase = phase;
  }

  /** Our own status write, before the watch delivers it (its resourceVersion is the next precondition). */
  written(o: IndexedObservation, state: Obs): void {
    const w = this.#where.get(`${o.namespace}/${o.name}`);
    const e = w && this.entries.get(w.ingester)?.get(w.scope)?.get(`${o.namespace}/${o.name}`);
    if (!e) return;
    const { contentHash: _h, ...now } = indexed(state);
    Object.assign(e, now);
    if (now.missingSince === undefined) delete e.missingSince;
  }
}

/**
 * What the cache keeps of an Observation: identity, the three labels it is filed by, and the phase. A full
 * Observation is a few KB (spec, details, managedFields); the informer's store would otherwise hold every one of
 * them for the whole term.
 */
export function slim(obj: unknown): Obs {
  const o = obj as Obs & { metadata: { uid?: string; resourceVersion?: string } };
  const labels = o.metadata?.labels ?? {};
  const kept: Record<string, string> = {};
  for (const k of [INGESTER_LABEL, INGESTER_NS_LABEL, SCOPE_LABEL]) if (labels[k] !== undefined) kept[k] = labels[k];
  return {
    metadata: {
      name: o.metadata?.name,
      namespace: o.metadata?.namespace,
      uid: o.metadata?.uid,
      resourceVersion: o.metadata?.resourceVersion,
      labels: kept,
      ...(hashOf(o) ? { annotations: { [CONTENT_HASH_ANNOTATION]: hashOf(o) } } : {}),
    },
    ...(resourceNsOf(o) ? { spec: { resource: { namespace: resourceNsOf(o) } } } : {}),
    ...(o.status?.phase || o.status?.missingSince
      ? {
          status: {
            ...(o.status.phase ? { phase: o.status.phase } : {}),
            ...(o.status.missingSince ? { missingSince: o.status.missingSince } : {}),
          },
        }
      : {}),
  } as Obs;
}

/** What the resolver knows of an Observation: identity, scope, phase, content hash, resourceVersion, clock. */
export function indexed(o: Obs): IndexedObservation {
  const hash = hashOf(o);
  const since = missingSinceOf(o);
  return {
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    phase: o.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
    scope: o.metadata.labels?.[SCOPE_LABEL] ?? '',
    resourceNamespace: resourceNsOf(o),
    ...(hash ? { contentHash: hash } : {}),
    ...(o.metadata.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
    ...(since !== undefined ? { missingSince: since } : {}),
  };
}
