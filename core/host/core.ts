/**
 * The host core: the one composition root (DESIGN §2). Guarded hooks, the pipeline, the resolver, the plugins with
 * their API objects, the handler table, the Ingester validator and the running Ingester set are built here and
 * nowhere else. The host (host.ts), the test kit (core/testkit) and `zen-watcher plugins list` (core/cli) all call
 * createHostCore, so a plugin's tests pass exactly when the real host would accept it: same guards and deadlines,
 * same refusals (emit/reconcile for an Ingester the plugin does not serve, reconcile for a webhook Ingester),
 * same onWebhook contract.
 *
 * What differs per caller is passed in: the sink, the Kubernetes facade, the Observation index of the resolver
 * (none in standalone mode), who may act as leader, and the webhook route builder (HTTP host only).
 */

import type { Ajv } from 'ajv';
import type { ObservationDraft, WebhookRequest } from '../api/index.ts';
import { HOST_API_VERSION, type PluginKube, ZwError, zwError } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createAjv, IngesterValidator } from '../config/validate.ts';
import type { TapFailure } from '../hooks/guard.ts';
import type { HostHooks } from '../hooks/host-hooks.ts';
import { type ClientSignal, RequestSignal, WebhookTapRequest } from '../http/request-signal.ts';
import type { WebhookRoute } from '../http/server.ts';
import {
  discoverPlugins,
  handlerTable,
  importAndRegister,
  type PluginRecord,
  registerPluginApiSpecifier,
} from '../loader/index.ts';
import { type CompiledIngester, Pipeline } from '../pipeline/pipeline.ts';
import type { ShardHub } from '../shard/hub.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { createDropLogger, type Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { createGuardedHooks } from './guarded-hooks.ts';
import { ingesterCalls } from './ingester-calls.ts';
import { IngesterRuntime } from './ingesters.ts';
import type { LeaderWorkTiming } from './leader-work.ts';
import type { ObservationIndex } from './observation-index.ts';
import { createPluginContext } from './plugin-facade.ts';
import { PluginFaults, type PluginFaultsOptions } from './plugin-faults.ts';
import { Resolver } from './resolver.ts';

export interface HostCoreOptions {
  /** Deadlines, pipeline limits and the resolution grace period (readEnv; the test kit passes readEnv({})). */
  env: Readonly<HostEnv>;
  log: Logger;
  metrics: Metrics;
  sink: ObservationSink;
  /** Read-only Kubernetes access for plugins; undefined in standalone mode. */
  kube: PluginKube | undefined;
  /** Where the resolver reads and marks Observations; undefined = no resolution (standalone mode). */
  index: ObservationIndex | undefined;
  /** May this replica do leader-only work now (resolution)? */
  canActAsLeader: () => boolean;
  now?: () => number;
  /** Overrides env.resolveAfterMs (the test kit resolves at once by default). */
  resolveGraceMs?: number;
  /** Given the core, builds the HTTP route of a webhook Ingester; without it no routes are served (test kit, CLI). */
  routes?: (core: HostCore) => (ci: CompiledIngester) => WebhookRoute;
  /** Called for every failed tap, after it was counted and logged. */
  onTapFailure?: (failure: TapFailure) => void;
  /** Fault containment of plugin code (ADR 0015): escaped errors attributed to plugins, disable at a limit. */
  faults?: Omit<PluginFaultsOptions, 'log' | 'metrics'>;
  /** Retry and CRD re-check timing of `api.leaderWork` runs (the test kit shortens them). */
  leaderWorkTiming?: LeaderWorkTiming;
  /** Sharded informer work (kubernetes mode, ZEN_SHARD_SLOTS > 1; ADR 0020). */
  shard?: ShardHub;
}

export interface HostCore {
  readonly hooks: HostHooks;
  readonly pipeline: Pipeline;
  readonly resolver: Resolver | undefined;
  readonly ingesters: IngesterRuntime;
  /** Every plugin found so far, loaded or not. */
  readonly plugins: readonly PluginRecord[];
  readonly ajv: Ajv;
  /** Validates Ingesters against the handlers of the plugins loaded so far. */
  readonly validator: IngesterValidator;
  /** Discovers, admits, imports and registers the plugins in these directories (in order), logging each. */
  loadPlugins(dirs: readonly string[]): Promise<PluginRecord[]>;
  /** Runs the onWebhook tap of the Ingester's handler: its drafts, or a ZwError as the HTTP layer answers it. */
  webhookDrafts(
    ci: CompiledIngester,
    request: Omit<WebhookRequest, 'ingester' | 'signal'>,
    /** The client's abort (a function: made only if the tap reads its signal). */
    clientSignal?: ClientSignal,
  ): Promise<ObservationDraft[]>;
}

export function createHostCore(o: HostCoreOptions): HostCore {
  const { env, log, metrics } = o;
  registerPluginApiSpecifier();

  // Hooks, guarded: timing, deadlines and isolation for every tap; each kind of failure logged once.
  let faults: PluginFaults | undefined; // once the plugins are found: escaped errors of plugin code (ADR 0015)
  const { hooks, reportFailure } = createGuardedHooks({
    env,
    log,
    metrics,
    faults: () => faults,
    onTapFailure: o.onTapFailure,
  });

  const pipeline = new Pipeline({
    sink: o.sink,
    metrics,
    dropLog: createDropLogger(log),
    refuseLog: createDropLogger(log, 'warn'),
    maxDetailsBytes: env.maxDetailsBytes,
    defaultTtlSeconds: env.defaultTtlSeconds,
    dedupMaxEntries: env.dedupMaxEntries,
    maxQueue: env.maxQueue,
    maxQueuePerSource: env.maxQueuePerSource,
    webhookWindowMs: env.dedupWindowSeconds * 1000,
    occurrenceIntervalMs: env.occurrenceFlushMs,
    ownNamespaces: env.watchNamespaces,
    ...(o.now ? { now: o.now } : {}),
    enrich: (draft, ing) =>
      hooks.onObservation.taps.length > 0 ? hooks.onObservation.promise(draft, { ingester: ing.view }) : draft,
  });

  const resolver = o.index
    ? new Resolver({
        pipeline,
        index: o.index,
        graceMs: o.resolveGraceMs ?? env.resolveAfterMs,
        canAct: o.canActAsLeader,
        onPhase: (transition, n) => metrics.resolved.inc({ transition }, n),
        onUpdated: (source, n) => metrics.updated.inc({ source }, n),
        ...(o.now ? { now: o.now } : {}),
      })
    : undefined;

  const plugins: PluginRecord[] = [];
  let handlers = handlerTable(plugins);
  const ajv = createAjv();
  const validator = new IngesterValidator({
    ajv,
    handlers: (h) => handlers.get(h),
    knownHandlers: () => [...handlers.keys()],
  });

  // The route builder needs the core; it is made once the core object exists (routes are built on replace()).
  let makeRoute: ((ci: CompiledIngester) => WebhookRoute) | undefined;
  const ingesters = new IngesterRuntime({
    pipeline,
    hooks,
    log,
    metrics,
    ...(o.routes ? { makeRoute: (ci: CompiledIngester) => makeRoute!(ci) } : {}),
  });

  const contextDeps = {
    hooks,
    log,
    metrics,
    kube: o.kube,
    ingesters: (h: readonly string[]) => ingesters.views(h),
    ...ingesterCalls(pipeline, ingesters, resolver),
    ...(o.leaderWorkTiming ? { leaderWorkTiming: o.leaderWorkTiming } : {}),
    ...(o.shard ? { shard: o.shard } : {}),
  };

  // Every tap of the handler (all the plugin's: handlers are unique) ran and none returned an array: undefined (a
  // forgotten `return`), null or anything else is the plugin's failure, reported as a throw is (counted, logged
  // once, onTapFailure), and a 500.
  const notDrafts = (plugin: string, result: unknown): ZwError => {
    const what = result === null ? 'null' : typeof result;
    const error = new ZwError(
      'ZW_ERR_PLUGIN_FAILED',
      `plugin '${plugin}' returned ${what}: return an array of drafts ([] for none)`,
    );
    reportFailure({ plugin, hook: 'onWebhook', kind: 'error', error });
    return zwError('ZW_ERR_PLUGIN_FAILED', { plugin }, { cause: error });
  };

  const core: HostCore = {
    hooks,
    pipeline,
    resolver,
    ingesters,
    plugins,
    ajv,
    validator,
    async loadPlugins(dirs) {
      const found = discoverPlugins(dirs, { ajv, hostApiVersion: HOST_API_VERSION });
      if (o.faults) faults = new PluginFaults(found, { log, metrics, ...o.faults });
      for (const record of found) {
        await importAndRegister(record, (r) => createPluginContext(r, contextDeps), env.hookTimeoutMs, faults);
        metrics.plugins.set({ plugin: record.name, version: record.version, status: record.status }, 1);
        if (record.status === 'loaded')
          log.info({ plugin: record.name, version: record.version, dir: record.dir }, 'plugin loaded');
        else
          log.warn(
            {
              plugin: record.name,
              version: record.version,
              dir: record.dir,
              status: record.status,
              reason: record.reason,
            },
            `plugin ${record.status}; skipped, the others keep running`,
          );
        plugins.push(record);
      }
      handlers = handlerTable(plugins);
      return found;
    },
    webhookDrafts(ci, request, clientSignal) {
      const handler = ci.config.handler;
      const hook = hooks.onWebhook.get(handler.handler);
      if (!hook?.taps.length) {
        return Promise.reject(
          new ZwError(
            'ZW_ERR_PLUGIN_FAILED',
            `plugin '${handler.plugin}' registered no webhook handler for '${handler.handler}'`,
          ),
        );
      }
      // The request's signal is made only if the tap reads it (issue #18: most never do). Not an async function:
      // one then() on the hook's promise (an async wrapper and its await cost more promises per request).
      const rs = new RequestSignal(env.hookTimeoutMs, clientSignal);
      return hook.promise(new WebhookTapRequest(request, ci.config.view, rs) as WebhookRequest).then(
        (result) => {
          rs.done();
          if (Array.isArray(result)) return result;
          throw notDrafts(handler.plugin, result);
        },
        (err: unknown) => {
          rs.done();
          throw err;
        },
      );
    },
  };
  makeRoute = o.routes?.(core);
  return core;
}
