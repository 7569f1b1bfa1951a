/**
 * Builds the narrowed API object handed to one plugin's register(): tap-only hooks, a logger and metrics scoped to
 * the plugin, read-only Kubernetes access (kubernetes mode only), its Ingesters, and emit().
 */

import type {
  EmitResult,
  IngesterView,
  IngesterWork,
  ObservationDraft,
  PluginApi,
  PluginKube,
  PluginLogger,
  PluginMetrics,
  ReconcileResult,
} from '../api/index.ts';
import { HOST_API_VERSION, ingesterKey, payloadError, ZwError, zwError } from '../api/index.ts';
import { createPluginHooks, type PluginHooksHandle } from '../hooks/facade.ts';
import type { HostHooks } from '../hooks/host-hooks.ts';
import type { PluginRecord } from '../loader/index.ts';
import { normalizeSeverity } from '../pipeline/normalize.ts';
import type { ShardHub } from '../shard/hub.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { Counter, Gauge } from '../telemetry/prom.ts';
import { type LeaderWorkMetrics, type LeaderWorkTiming, registerLeaderWork } from './leader-work.ts';
import { outsidePlugins } from './plugin-faults.ts';

export interface FacadeDeps {
  hooks: HostHooks;
  log: Logger;
  metrics: Metrics;
  kube: PluginKube | undefined;
  ingesters: (handlers: readonly string[]) => IngesterView[];
  emit: (ingester: IngesterView, drafts: ObservationDraft[], signal?: AbortSignal) => Promise<EmitResult>;
  reconcile: (
    ingester: IngesterView,
    scope: string,
    drafts: ObservationDraft[],
    signal?: AbortSignal,
  ) => Promise<ReconcileResult>;
  reconcileScopes: (ingester: IngesterView, liveScopes: readonly string[], signal?: AbortSignal) => Promise<void>;
  /** Retry and discovery timing of `api.leaderWork` runs (tests shorten them). */
  leaderWorkTiming?: LeaderWorkTiming;
  /** Sharded informer work (ADR 0020): leader-work runs follow its epochs instead of the leader term. */
  shard?: ShardHub;
}

export function pluginLogger(log: Logger): PluginLogger {
  return {
    debug: (msg, meta) => log.debug(meta ?? {}, msg),
    info: (msg, meta) => log.info(meta ?? {}, msg),
    warn: (msg, meta) => log.warn(meta ?? {}, msg),
    error: (msg, meta) => log.error(meta ?? {}, msg),
    child: (meta) => pluginLogger(log.child(meta)),
  };
}

const METRIC_NAME = /^[a-z][a-z0-9_]{0,80}$/;

function pluginMetrics(plugin: string, metrics: Metrics): PluginMetrics {
  const registry = metrics.registry;
  const get = (full: string) => registry.getSingleMetric(full);
  const check = (name: string) => {
    if (!METRIC_NAME.test(name))
      throw zwError('ZW_ERR_PLUGIN_API', { plugin, detail: `metric name '${name}' must match ${METRIC_NAME}` });
  };
  return {
    counter(name, help, labelNames = []) {
      check(name);
      const full = `zen_watcher_plugin_${name}`;
      const c =
        (get(full) as Counter<string> | undefined) ??
        new Counter({ name: full, help, labelNames: ['plugin', ...labelNames], registers: [registry] });
      return { inc: (labels = {}, n = 1) => c.inc({ ...labels, plugin }, n) };
    },
    gauge(name, help, labelNames = []) {
      check(name);
      const full = `zen_watcher_plugin_${name}`;
      const g =
        (get(full) as Gauge<string> | undefined) ??
        new Gauge({ name: full, help, labelNames: ['plugin', ...labelNames], registers: [registry] });
      return { set: (value, labels = {}) => g.set({ ...labels, plugin }, value) };
    },
  };
}

/** Plugins act only for Ingesters their own handlers serve: a rejected promise otherwise, undefined when fine. */
function ownedBy(handlers: readonly string[], plugin: string) {
  return (ingester: IngesterView, what: string): Promise<never> | undefined =>
    handlers.includes(ingester.handler)
      ? undefined
      : Promise.reject(
          zwError('ZW_ERR_NOT_OWNER', {
            plugin,
            action: what,
            ingester: ingesterKey(ingester),
            handler: ingester.handler,
          }),
        );
}

export function createPluginContext(
  record: PluginRecord,
  deps: FacadeDeps,
): { api: PluginApi; handle: PluginHooksHandle } {
  const handlers = record.manifest?.sources ?? [];
  const handle = createPluginHooks(deps.hooks, record.name, handlers, record.manifest?.destinations ?? []);
  const own = ownedBy(handlers, record.name);
  // Host work a plugin asks for runs outside the plugin's fault context (what it schedules is the host's); the
  // promise handed back is made in the plugin's context, so a rejection the plugin leaves unhandled is its own.
  const hostWork = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (record.status === 'disabled')
      throw new ZwError(
        'ZW_ERR_PLUGIN_DISABLED',
        `plugin '${record.name}' cannot ${what}: it is disabled (${record.reason})`,
      );
    return await outsidePlugins(fn);
  };
  const log = pluginLogger(deps.log.child({ plugin: record.name }));
  const m = deps.metrics;
  const workMetrics: LeaderWorkMetrics = {
    runs: (plugin, delta) => m.leaderWorkRuns.inc({ plugin }, delta),
    retry: (plugin, reason) => m.leaderWorkRetries.inc({ plugin, reason }),
    startError: (plugin) => m.leaderWorkErrors.inc({ plugin }),
    units: (ingester, n) => m.shardUnitsOwned.set({ ingester }, n),
  };
  const api: PluginApi = Object.freeze({
    name: record.name,
    version: record.version,
    hostApiVersion: HOST_API_VERSION,
    hooks: handle.hooks,
    log,
    metrics: pluginMetrics(record.name, deps.metrics),
    kube: deps.kube,
    ingesters: (handler?: string) => deps.ingesters(handler ? handlers.filter((h) => h === handler) : handlers),
    emit: (ingester: IngesterView, drafts: ObservationDraft[], options?: { signal?: AbortSignal }) =>
      own(ingester, 'emit') ?? hostWork('emit', () => deps.emit(ingester, drafts, options?.signal)),
    reconcile: (
      ingester: IngesterView,
      scope: string,
      drafts: ObservationDraft[],
      options?: { signal?: AbortSignal },
    ) =>
      own(ingester, 'reconcile') ??
      hostWork('reconcile', () => deps.reconcile(ingester, scope, drafts, options?.signal)),
    reconcileScopes: (ingester: IngesterView, liveScopes: readonly string[], options?: { signal?: AbortSignal }) =>
      own(ingester, 'reconcile') ??
      hostWork('reconcile', () => deps.reconcileScopes(ingester, liveScopes, options?.signal)),
    leaderWork: (work: IngesterWork) =>
      registerLeaderWork(record.name, handlers, api, log, workMetrics, work, deps.leaderWorkTiming, deps.shard),
    payloadError,
    severityOf: normalizeSeverity,
  });
  return { api, handle };
}
