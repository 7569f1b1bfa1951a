/**
 * Kubernetes delivery state, in the cluster:
 *
 * - Per Observation and destination, `status.delivered["<namespace>.<name>"]` (the status subresource the leader
 *   already writes, so no write access to the Observation itself) holds the version of the last event delivered: `F` (firing), `R/<resolvedAt>` (resolved), `F/<resolvedAt>` (firing again after
 *   that resolution). An Observation is due when the version its phase asks for differs from the annotation, so a
 *   resolution and a re-opening are delivered too, and a new leader knows what is settled from the objects alone.
 *   (A merge patch of one key leaves the other destinations' keys and the phase alone.)
 * - Per destination, its status holds `sending` (the refs of the batch under way: a new leader counts them as
 *   resends) and `droppedBefore` (events due before this time were given up to keep the backlog bound).
 *
 * The delivering replica (the leader) keeps a watch-fed cache of slim Observations for its term; the objects are
 * read in full (GET) only for the batch being sent. Writes go through `canAct` (leader-only writes).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { DeliveredObservation, DeliveryEvent, Observation } from '../api/index.ts';
import { ZwError } from '../api/index.ts';
import { createInformer, type InformerMetrics, type KubeApi, type KubeObject } from '../kube/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { matchesAny } from './routes.ts';
import { type Backlog, type DeliveryState, idempotencyKey, type PendingItem, type StateTarget } from './state.ts';

export const OBSERVATION_GVR = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' } as const;
export const DESTINATION_GVR = { group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'destinations' } as const;
const FIRST_SEEN = 'zen.kube-zen.io/first-seen';

/** The key of a destination in an Observation's `status.delivered`: `namespace.name`. */
export function deliveredKey(destination: string): string {
  return destination.replace('/', '.');
}

interface SlimObservation {
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: Observation['spec'];
  status: { phase?: string; resolvedAt?: string; delivered: Record<string, string> };
}

type Status = { phase?: string; resolvedAt?: string; delivered?: Record<string, string> };

/** Keep what routing and versions read: labels, the first-seen stamp, the spec without details, the status. */
export function slimObservation(obj: unknown): SlimObservation {
  const o = obj as KubeObject & { spec?: Observation['spec']; status?: Status };
  const m = o.metadata ?? {};
  const annotations: Record<string, string> = {};
  const seen = m.annotations?.[FIRST_SEEN];
  if (seen) annotations[FIRST_SEEN] = seen;
  const { details: _d, ...spec } = (o.spec ?? {}) as Observation['spec'];
  return {
    metadata: {
      name: m.name ?? '',
      namespace: m.namespace ?? '',
      ...(m.uid ? { uid: m.uid } : {}),
      ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
      labels: { ...(m.labels ?? {}) },
      annotations,
    },
    spec: spec as Observation['spec'],
    status: {
      ...(o.status?.phase ? { phase: o.status.phase } : {}),
      ...(o.status?.resolvedAt ? { resolvedAt: o.status.resolvedAt } : {}),
      delivered: { ...(o.status?.delivered ?? {}) },
    },
  };
}

/** What event an Observation is due for, given the version last delivered; undefined when settled. */
export function dueEvent(
  phase: string | undefined,
  resolvedAt: string | undefined,
  delivered: string | undefined,
): { event: DeliveryEvent; version: string } | undefined {
  if (phase === 'Resolved') {
    const v = `R/${resolvedAt ?? ''}`;
    return delivered === v ? undefined : { event: 'resolved', version: v };
  }
  if (delivered === undefined) return { event: 'firing', version: 'F' };
  if (delivered.startsWith('R/')) return { event: 'firing', version: `F/${delivered.slice(2)}` };
  return undefined; // F or F/<t>: firing delivered, still firing
}

export interface DestinationMeta {
  /** ms: events due before the Destination existed are not delivered (no backfill). */
  createdAt: number;
  droppedBefore: number;
  sending: ReadonlySet<string>;
}

export interface KubeStateDeps {
  kc: KubeConfig;
  api: KubeApi;
  /** WATCH_NAMESPACE; empty = cluster-wide. */
  namespaces: readonly string[];
  log: Logger;
  canAct: () => boolean;
  informerMetrics?: InformerMetrics;
}

type Pending = PendingItem & { due: number };

export class KubeDeliveryState implements DeliveryState {
  readonly #d: KubeStateDeps;
  #cache = new Map<string, SlimObservation>();
  #meta = new Map<string, DestinationMeta>();
  /** Refs this term found in a status `sending`: their next send counts as a resend. */
  #unknown = new Map<string, Set<string>>();
  #synced: Promise<void> | undefined;

  constructor(deps: KubeStateDeps) {
    this.#d = deps;
  }

  /** Destination facts from its resource (kube-feed.ts), kept current. */
  setMeta(key: string, meta: DestinationMeta): void {
    this.#meta.set(key, meta);
    if (!this.#unknown.has(key)) this.#unknown.set(key, new Set(meta.sending));
  }

  #term: AbortSignal | undefined;

  /** A term begins; the Observation cache starts with its first use (no Destination, no cache). */
  async begin(signal: AbortSignal): Promise<void> {
    this.#term = signal;
    this.#synced = undefined;
    this.#cache = new Map();
  }

  /** The Observation cache of this term, started on first use; resolves when it has listed everything once. */
  #ready(): Promise<void> {
    if (this.#synced) return this.#synced;
    const signal = this.#term;
    if (!signal || signal.aborted)
      return Promise.reject(new ZwError('ZW_ERR_DESTINATION', 'delivery runs on the leader only'));
    this.#cache = new Map();
    this.#unknown = new Map([...this.#meta].map(([k, m]) => [k, new Set(m.sending)]));
    const key = (o: SlimObservation) => `${o.metadata.namespace}/${o.metadata.name}`;
    const scopes = this.#d.namespaces.length ? this.#d.namespaces.map((n) => n as string | undefined) : [undefined];
    const syncs = scopes.map(
      (namespace) =>
        new Promise<void>((resolve) => {
          void createInformer<SlimObservation>(
            this.#d.kc,
            {
              group: OBSERVATION_GVR.group,
              version: OBSERVATION_GVR.version,
              resource: OBSERVATION_GVR.plural,
              ...(namespace ? { namespace } : {}),
              signal,
            },
            {
              add: (o) => void this.#cache.set(key(o), this.#keepOurs(o)),
              update: (o) => void this.#cache.set(key(o), this.#keepOurs(o)),
              delete: (o) => void this.#cache.delete(key(o)),
              synced: (all) => {
                for (const o of all) this.#cache.set(key(o), this.#keepOurs(o));
                resolve();
              },
            },
            {
              log: this.#d.log.child({ component: 'delivery-cache', ...(namespace ? { namespace } : {}) }),
              transform: slimObservation,
              ...(this.#d.informerMetrics ? { metrics: this.#d.informerMetrics } : {}),
            },
          ).catch((err) => this.#d.log.warn({ err: (err as Error).message }, 'delivery cache stopped'));
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    );
    this.#synced = Promise.all(syncs).then(() => {});
    return this.#synced;
  }

  /** Our own settle() writes win over an older watch event still in flight (read-your-writes). */
  #keepOurs(o: SlimObservation): SlimObservation {
    const prev = this.#cache.get(`${o.metadata.namespace}/${o.metadata.name}`);
    if (!prev || prev.metadata.uid !== o.metadata.uid) return o;
    for (const [k, v] of Object.entries(prev.status.delivered)) {
      if (o.status.delivered[k] === undefined) o.status.delivered[k] = v;
    }
    return o;
  }

  #pending(target: StateTarget): Pending[] {
    const meta = this.#meta.get(target.key);
    const dk = deliveredKey(target.key);
    const out: Pending[] = [];
    for (const o of this.#cache.values()) {
      const view = { labels: o.metadata.labels, namespace: o.metadata.namespace, spec: o.spec };
      if (!matchesAny(target.routes, view)) continue;
      const due = dueEvent(o.status.phase, o.status.resolvedAt, o.status.delivered[dk]);
      if (!due) continue;
      const at =
        due.event === 'resolved'
          ? Date.parse(o.status.resolvedAt ?? '')
          : due.version === 'F'
            ? Date.parse(o.metadata.annotations[FIRST_SEEN] ?? o.metadata.creationTimestamp ?? '')
            : Date.parse(due.version.slice(2));
      const dueAt = Number.isFinite(at) ? at : Date.now();
      if (meta && (dueAt < meta.createdAt || dueAt <= meta.droppedBefore)) continue;
      const ref = `${o.metadata.namespace}/${o.metadata.name}@${due.version}`;
      out.push({
        ref,
        key: idempotencyKey(target.key, o.metadata.namespace, o.metadata.name, due.event, due.version),
        event: due.event,
        observation: undefined as never,
        resend: this.#unknown.get(target.key)?.has(ref) ?? false,
        dueAt,
        due: dueAt,
      });
    }
    return out.sort((a, b) => a.due - b.due || (a.ref < b.ref ? -1 : 1));
  }

  async next(target: StateTarget, limit: number): Promise<PendingItem[]> {
    await this.#ready();
    const batch = this.#pending(target).slice(0, limit);
    // The full objects (details included) for what is sent now; one that is gone expired before delivery.
    return Promise.all(
      batch.map(async (p) => {
        const [namespace, rest] = p.ref.split('/', 2) as [string, string];
        const name = rest.slice(0, rest.indexOf('@'));
        let full: KubeObject & { spec: Observation['spec']; status?: Status };
        try {
          full = await this.#d.api.get({ ...OBSERVATION_GVR, namespace, name });
        } catch (err) {
          if ((err as { code?: number }).code === 404) return { ...p, observation: undefined as never };
          throw err;
        }
        const m = full.metadata ?? {};
        const created = Date.parse(m.creationTimestamp ?? '') || Date.now();
        const observation: DeliveredObservation = {
          name,
          namespace,
          labels: m.labels ?? {},
          annotations: m.annotations ?? {},
          spec: full.spec,
          phase: full.status?.phase === 'Resolved' ? 'Resolved' : 'Active',
          ...(full.status?.resolvedAt ? { resolvedAt: full.status.resolvedAt } : {}),
          createdAt: new Date(created).toISOString(),
          expiresAt: new Date(created + (full.spec?.ttlSecondsAfterCreation ?? 0) * 1000).toISOString(),
        };
        return { ...p, observation };
      }),
    );
  }

  async sending(target: StateTarget, items: readonly PendingItem[]): Promise<void> {
    await this.#patchStatus(target.key, { sending: items.map((i) => i.ref) });
  }

  async settle(target: StateTarget, items: readonly PendingItem[]): Promise<void> {
    if (!this.#d.canAct())
      throw new ZwError('ZW_ERR_DESTINATION', 'not the leader any more: delivery state is not written');
    const dk = deliveredKey(target.key);
    const queue = [...items];
    const work = async () => {
      for (let i = queue.shift(); i; i = queue.shift()) {
        const at = i.ref.indexOf('@');
        const [namespace, name] = i.ref.slice(0, at).split('/') as [string, string];
        const version = i.ref.slice(at + 1);
        try {
          await this.#d.api.patch({
            ...OBSERVATION_GVR,
            namespace,
            name,
            subresource: 'status',
            body: { status: { delivered: { [dk]: version } } },
          });
        } catch (err) {
          if ((err as { code?: number }).code !== 404) throw err;
        }
        const c = this.#cache.get(`${namespace}/${name}`);
        if (c) c.status.delivered[dk] = version;
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, items.length) }, work));
    const unknown = this.#unknown.get(target.key);
    for (const i of items) unknown?.delete(i.ref);
    await this.#patchStatus(target.key, { sending: [] });
  }

  async backlog(target: StateTarget): Promise<Backlog> {
    await this.#ready();
    const p = this.#pending(target);
    return { count: p.length, oldestAt: p[0]?.due };
  }

  async trim(target: StateTarget, max: number): Promise<number> {
    await this.#ready();
    const p = this.#pending(target);
    if (p.length <= max) return 0;
    const drop = p.length - max;
    const droppedBefore = p[drop - 1]!.due;
    const meta = this.#meta.get(target.key) ?? { createdAt: 0, droppedBefore: 0, sending: new Set<string>() };
    this.#meta.set(target.key, { ...meta, droppedBefore });
    await this.#patchStatus(target.key, { droppedBefore: new Date(droppedBefore).toISOString() });
    // Events due at the same millisecond as the watermark go too; count what the watermark really covers.
    return p.filter((x) => x.due <= droppedBefore).length;
  }

  async #patchStatus(key: string, status: Record<string, unknown>): Promise<void> {
    if (!this.#d.canAct())
      throw new ZwError('ZW_ERR_DESTINATION', 'not the leader any more: delivery state is not written');
    const [namespace, name] = key.split('/') as [string, string];
    try {
      await this.#d.api.patch({ ...DESTINATION_GVR, namespace, name, subresource: 'status', body: { status } });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
  }
}
