/** Shared helpers for the informer plugin tests: the kit, object builders, and a recording fake PluginApi. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type {
  EmitResult,
  InformerEvents,
  InformerOptions,
  IngesterChange,
  IngesterView,
  LeaderTerm,
  ObservationDraft,
  PluginApi,
  PluginLogger,
  ReconcileResult,
  Severity,
} from 'zen-watcher/plugin-api';
import { payloadError } from 'zen-watcher/plugin-api';
import {
  configFromSchema,
  fakeLeaderWork,
  type KitObservation,
  loadTestPlugin,
  type TestPlugin,
} from 'zen-watcher/testkit';
import type { InformerConfig } from '../config.ts';
import schema from '../schema.json' with { type: 'json' };

export const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = join(PLUGIN_DIR, '..', '..');
export const FIXTURES = join(PLUGIN_DIR, 'test', 'fixtures');

/** spec.config as the host hands it over (schema.json validated, defaults applied); throws where the host refuses. */
export const configOf = (config: Record<string, unknown> = {}): InformerConfig =>
  configFromSchema<InformerConfig>(schema, config);

export function load(opts: { resolveGraceMs?: number } = {}): Promise<TestPlugin> {
  return loadTestPlugin(PLUGIN_DIR, opts);
}

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** `spec` of a shipped sample Ingester (config/samples/…). */
export function sampleSpec(file: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(join(REPO, 'config', 'samples', file), 'utf8')) as {
    spec: Record<string, unknown>;
  };
  return doc.spec;
}

export const CONFIGMAPS = { group: '', version: 'v1', resource: 'configmaps' };
export const EVENTS = { group: '', version: 'v1', resource: 'events' };

let rv = 1;
export function configMap(
  name: string,
  namespace: string,
  data: Record<string, string>,
  labels: Record<string, string> = { app: 'kube-bench' },
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace, labels, uid: `uid-${name}`, resourceVersion: String(rv++) },
    data,
  };
}

/** A core/v1 Event about a Pod, as the API server serves it. */
export function event(o: {
  name: string;
  namespace?: string;
  reason?: string;
  type?: string;
  message?: string;
  count?: number;
  pod?: string;
  podUid?: string;
  lastTimestamp?: string;
}): Record<string, unknown> {
  const ns = o.namespace ?? 'shop';
  const pod = o.pod ?? 'web-7d4b9c-x2x9k';
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: o.name, namespace: ns, uid: `uid-${o.name}`, resourceVersion: String(rv++) },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      name: pod,
      namespace: ns,
      uid: o.podUid ?? `uid-${pod}`,
      resourceVersion: '4711',
      fieldPath: 'spec.containers{web}',
    },
    reason: o.reason ?? 'BackOff',
    message: o.message ?? `Back-off restarting failed container web in pod ${pod}_${ns}(uid-${pod})`,
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: '2025-06-01T12:00:00Z',
    lastTimestamp: o.lastTimestamp ?? '2025-06-01T12:00:00Z',
    count: o.count ?? 1,
    type: o.type ?? 'Warning',
    eventTime: null,
    reportingComponent: 'kubelet',
    reportingInstance: 'node-1',
  };
}

export const bySeverityThenTitle = (a: KitObservation, b: KitObservation) =>
  a.spec.severity.localeCompare(b.spec.severity) || a.spec.title.localeCompare(b.spec.title);

/** The host's severity aliases, enough for the pure mapping tests. */
export function severityOf(v: unknown): Severity | undefined {
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  const alias: Record<string, Severity> = {
    critical: 'critical',
    high: 'high',
    error: 'high',
    medium: 'medium',
    warning: 'medium',
    warn: 'medium',
    low: 'low',
    info: 'info',
    informational: 'info',
  };
  return alias[s];
}

export function view(o: {
  name?: string;
  namespace?: string;
  source?: string;
  config?: Record<string, unknown>;
  informer?: IngesterView['informer'];
  generation?: number;
}): IngesterView<InformerConfig> {
  return {
    namespace: o.namespace ?? 'zen-system',
    name: o.name ?? 'test',
    source: o.source ?? 'test',
    handler: 'informer',
    ingester: 'informer',
    config: configOf(o.config), // as the host hands it over: validated, defaults applied
    ...(o.informer ? { informer: o.informer } : {}),
    generation: o.generation ?? 1,
  };
}

export interface FakeInformer {
  options: InformerOptions;
  events: InformerEvents<Record<string, unknown>>;
}

/**
 * A recording PluginApi for lifecycle tests (the kit drives onBecomeLeader only): hooks are collected so the test
 * can fire onIngesterChanged, informers and host calls are recorded, and reconcile/emit may be made to fail.
 */
export function fakeApi(o: { ingesters?: IngesterView[]; kube?: boolean } = {}) {
  const taps = new Map<string, ((...args: never[]) => Promise<unknown>)[]>();
  const tappable = (name: string) => ({
    tapPromise(fn: (...args: never[]) => Promise<unknown>) {
      taps.set(name, [...(taps.get(name) ?? []), fn]);
    },
  });
  const logs: { level: string; msg: string; meta?: object }[] = [];
  const logger = (base: object = {}): PluginLogger => ({
    debug: (msg, meta) => logs.push({ level: 'debug', msg, meta: { ...base, ...meta } }),
    info: (msg, meta) => logs.push({ level: 'info', msg, meta: { ...base, ...meta } }),
    warn: (msg, meta) => logs.push({ level: 'warn', msg, meta: { ...base, ...meta } }),
    error: (msg, meta) => logs.push({ level: 'error', msg, meta: { ...base, ...meta } }),
    child: (meta) => logger({ ...base, ...meta }),
  });
  const counters = new Map<string, number>();
  const informers: FakeInformer[] = [];
  const calls: { op: 'reconcile' | 'emit' | 'reconcileScopes'; ingester: string; scope?: string; n: number }[] = [];
  const state = { ingesters: o.ingesters ?? [], fail: false };
  const result: ReconcileResult = {
    created: 0,
    duplicates: 0,
    filtered: 0,
    dropped: 0,
    missing: 0,
    resolved: 0,
    reactivated: 0,
  };
  const api: PluginApi = {
    // Plugin API 1.2.0: the host's own per-Ingester runner, on this fake's hooks.
    leaderWork: (work) => fakeLeaderWork(api, { retryInitialMs: 60_000 })(work),
    name: 'informer',
    version: '1.0.0',
    hostApiVersion: '1.0.0',
    hooks: {
      onStart: tappable('onStart'),
      onBecomeLeader: tappable('onBecomeLeader'),
      onLoseLeadership: tappable('onLoseLeadership'),
      onWebhook: {
        for() {
          throw new Error('no webhooks here');
        },
      },
      onIngesterChanged: tappable('onIngesterChanged'),
      onObservation: tappable('onObservation'),
      onStop: tappable('onStop'),
    } as unknown as PluginApi['hooks'],
    log: logger(),
    metrics: {
      counter: (name) => ({
        inc: (labels = {}, n = 1) => {
          const k = `${name}${JSON.stringify(labels)}`;
          counters.set(k, (counters.get(k) ?? 0) + n);
        },
      }),
      gauge: () => ({ set: () => {} }),
    },
    kube:
      o.kube === false
        ? undefined
        : {
            informer: async <T>(options: InformerOptions, events: InformerEvents<T>) => {
              informers.push({ options, events: events as InformerEvents<Record<string, unknown>> });
              await new Promise<void>((resolve) => {
                if (options.signal.aborted) resolve();
                options.signal.addEventListener('abort', () => resolve(), { once: true });
              });
            },
            hasResource: async () => true,
            get: async () => undefined,
            watchNamespaces: [],
          },
    ingesters: () => state.ingesters,
    emit: async (ing: IngesterView, drafts: ObservationDraft[]): Promise<EmitResult> => {
      calls.push({ op: 'emit', ingester: ing.name, n: drafts.length });
      if (state.fail) throw new Error('sink down');
      return result;
    },
    reconcile: async (ing: IngesterView, scope: string, drafts: ObservationDraft[]) => {
      calls.push({ op: 'reconcile', ingester: ing.name, scope, n: drafts.length });
      if (state.fail) throw new Error('sink down');
      return result;
    },
    reconcileScopes: async (ing: IngesterView, live: readonly string[]) => {
      calls.push({ op: 'reconcileScopes', ingester: ing.name, n: live.length });
      if (state.fail) throw new Error('sink down');
    },
    payloadError,
    severityOf,
  };
  const fire = async (name: string, ...args: unknown[]) => {
    for (const fn of taps.get(name) ?? []) await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    api,
    logs,
    counters,
    informers,
    calls,
    state,
    settle,
    open: () => informers.filter((i) => !i.options.signal.aborted),
    async lead(): Promise<{ term: LeaderTerm; end: () => void }> {
      const c = new AbortController();
      const term: LeaderTerm = { signal: c.signal, identity: 'fake', startedAt: Date.now() };
      await fire('onBecomeLeader', term);
      return { term, end: () => c.abort(new Error('term ended')) };
    },
    changed: (change: IngesterChange) => fire('onIngesterChanged', change),
    stop: () => fire('onStop', { reason: 'test' }),
  };
}
