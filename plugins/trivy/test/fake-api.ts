/** A recording fake of the plugin API for the leader runtime (what the test kit cannot drive). */
import type {
  InformerEvents,
  InformerOptions,
  IngesterChange,
  IngesterView,
  LeaderTerm,
  ObservationDraft,
  PluginApi,
} from 'zen-watcher/plugin-api';
import { fakeLeaderWork } from 'zen-watcher/testkit';
import type { TrivyConfig } from '../config.ts';
import { type ControllerOptions, TrivyController } from '../controller.ts';
import { clone, configOf, ownOne } from './helpers.ts';

export interface Informer {
  options: InformerOptions;
  events: InformerEvents<unknown>;
}
export type Call =
  | { type: 'reconcile'; ingester: string; scope: string; fingerprints: string[] }
  | { type: 'scopes'; ingester: string; live: string[] };

export interface Fake {
  api: PluginApi<TrivyConfig>;
  /** What `api.kube.get` returns, by `<resource>|<namespace>/<name>` (undefined: 404). */
  objects: Map<string, unknown>;
  /** Reads so far (`api.kube.get`). */
  gets: { n: number };
  /** The next reads that fail (503). */
  getFails: { n: number };
  informers: Informer[];
  open: (resource?: string) => Informer[];
  calls: Call[];
  views: IngesterView<TrivyConfig>[];
  served: Set<string>;
  discoveryFails: { n: number };
  reconcileFails: { n: number };
  /** Reconciles that resolve with `dropped: 1` (a write that failed for good in the host). */
  reconcileDrops: { n: number };
  warnings: string[];
  taps: { leader?: (t: LeaderTerm) => Promise<void>; changed?: (c: IngesterChange) => Promise<void> };
}

export function fake(opts: { kube?: boolean; retryInitialMs?: number; retryMaxMs?: number } = {}): Fake {
  const informers: Informer[] = [];
  const objects = new Map<string, unknown>();
  const gets = { n: 0 };
  const getFails = { n: 0 };
  const calls: Call[] = [];
  const views: IngesterView<TrivyConfig>[] = [];
  const served = new Set(['vulnerabilityreports', 'configauditreports', 'exposedsecretreports']);
  const discoveryFails = { n: 0 };
  const reconcileFails = { n: 0 };
  const reconcileDrops = { n: 0 };
  const warnings: string[] = [];
  const taps: Fake['taps'] = {};
  const noTap = { tapPromise() {} };
  const log = {
    debug() {},
    info() {},
    warn: (m: string) => void warnings.push(m),
    error: (m: string) => void warnings.push(m),
    child: () => log,
  };
  const zero = { created: 0, duplicates: 0, filtered: 0, dropped: 0, missing: 0, resolved: 0, reactivated: 0 };
  const api = {
    // Plugin API 1.2.0: the host's own per-Ingester runner, on this fake's hooks.
    leaderWork: (work: Parameters<PluginApi<TrivyConfig>['leaderWork']>[0]) =>
      fakeLeaderWork(api, {
        retryInitialMs: opts.retryInitialMs ?? 1000,
        ...(opts.retryMaxMs !== undefined ? { retryMaxMs: opts.retryMaxMs } : {}),
      })(work),
    name: 'trivy',
    version: '1.0.0',
    hostApiVersion: '1.0.0',
    hooks: {
      onStart: noTap,
      onBecomeLeader: {
        tapPromise: (fn: (t: LeaderTerm) => Promise<void>) => {
          taps.leader = fn;
        },
      },
      onLoseLeadership: noTap,
      onWebhook: { for: () => noTap },
      onIngesterChanged: {
        tapPromise: (fn: (c: IngesterChange) => Promise<void>) => {
          taps.changed = fn;
        },
      },
      onObservation: noTap,
      onStop: noTap,
    },
    log,
    metrics: { counter: () => ({ inc() {} }), gauge: () => ({ set() {} }) },
    kube:
      opts.kube === false
        ? undefined
        : {
            informer: (options: InformerOptions, events: InformerEvents<unknown>) => {
              informers.push({ options, events });
              return new Promise<void>((resolve) => {
                if (options.signal.aborted) resolve();
                options.signal.addEventListener('abort', () => resolve(), { once: true });
              });
            },
            hasResource: async (_g: string, _v: string, resource: string) => {
              if (discoveryFails.n > 0) {
                discoveryFails.n--;
                throw new Error('discovery: 503');
              }
              return served.has(resource);
            },
            // The "API server" for reads of one report: what the test put in `objects` (key resource|ns/name).
            get: async (o: { resource: string; namespace?: string; name: string }) => {
              gets.n++;
              if (getFails.n > 0) {
                getFails.n--;
                throw new Error('apiserver: 503');
              }
              return objects.get(`${o.resource}|${o.namespace ?? ''}/${o.name}`);
            },
            watchNamespaces: [],
          },
    ingesters: () => views,
    emit: async () => ({ created: 0, duplicates: 0, filtered: 0, dropped: 0 }),
    reconcile: async (ing: IngesterView, scope: string, drafts: ObservationDraft[]) => {
      calls.push({
        type: 'reconcile',
        ingester: ing.name,
        scope,
        fingerprints: drafts.map((d) => d.fingerprint ?? ''),
      });
      if (reconcileFails.n > 0) {
        reconcileFails.n--;
        throw new Error('apiserver: 500');
      }
      if (reconcileDrops.n > 0) {
        reconcileDrops.n--;
        return { ...zero, dropped: 1 };
      }
      return zero;
    },
    reconcileScopes: async (ing: IngesterView, live: readonly string[]) => {
      calls.push({ type: 'scopes', ingester: ing.name, live: [...live].sort() });
    },
    payloadError: () => new Error('unused'),
    severityOf: () => undefined,
  } as unknown as PluginApi<TrivyConfig>;
  const open = (resource?: string) =>
    informers.filter((i) => !i.options.signal.aborted && (resource === undefined || i.options.resource === resource));
  return {
    api,
    objects,
    gets,
    getFails,
    informers,
    open,
    calls,
    views,
    served,
    discoveryFails,
    reconcileFails,
    reconcileDrops,
    warnings,
    taps,
  };
}

export function view(
  name: string,
  config: Record<string, unknown> = {},
  extra: Partial<IngesterView<TrivyConfig>> = {},
): IngesterView<TrivyConfig> {
  return {
    namespace: 'zen-system',
    name,
    source: 'trivy',
    handler: 'trivy',
    ingester: 'informer',
    config: configOf(config), // as the host hands it over: validated, defaults applied
    generation: 1,
    ...extra,
  };
}

export function term(): { term: LeaderTerm; end: () => void } {
  const c = new AbortController();
  return { term: { signal: c.signal, identity: 'test', startedAt: Date.now() }, end: () => c.abort() };
}

export const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

/**
 * The start of most controller tests: a fake with these Ingesters (`prepare` adjusts it first: served kinds, faults),
 * a TrivyController on it, registered and leading, its first informers started. End the term with `t.end()`.
 */
export async function leading(
  views: IngesterView<TrivyConfig>[],
  opts: { fake?: Parameters<typeof fake>[0]; controller?: ControllerOptions; prepare?: (f: Fake) => void } = {},
): Promise<{ f: Fake; c: TrivyController; t: ReturnType<typeof term> }> {
  const f = fake(opts.fake);
  f.views.push(...views);
  opts.prepare?.(f);
  const c = new TrivyController(f.api, opts.controller);
  const t = term();
  c.register();
  await f.taps.leader!(t.term);
  await settle();
  return { f, c, t };
}

/** Per recorded call: the number of fingerprints of a reconcile, -1 for any other call. */
export const reconcileSizes = (calls: readonly Call[]) =>
  calls.map((x) => (x.type === 'reconcile' ? x.fingerprints.length : -1));

export function report(name: string, namespace: string, cves: string[]) {
  const r = clone(ownOne('vulnerabilityreport-shop-web.yaml'));
  r.metadata = { ...r.metadata, name, namespace };
  delete (r.metadata as Record<string, unknown>).labels;
  r.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, controller: true }];
  r.report!.vulnerabilities = cves.map((id) => ({
    vulnerabilityID: id,
    resource: 'pkg',
    installedVersion: '1',
    severity: 'HIGH',
    title: id,
  }));
  return r;
}
