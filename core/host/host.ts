/**
 * The host: the only module that wires the others (DESIGN §2). It loads plugins, validates Ingesters, builds the
 * pipeline and the HTTP server, runs the hooks in their order, and shuts down gracefully:
 *
 *   start:  plugins → Ingesters → sink → HTTP listen → onStart → ready → (leader) onBecomeLeader
 *   stop:   not ready → stop accepting → end the leader term and release the Lease (onLoseLeadership) →
 *           drain accepted webhook work → onStop → close
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AsyncSeriesBailHook, HookMap } from 'tapable';
import type { EmitResult, HookName, IngesterView, ObservationDraft, RunMode, WebhookRequest } from '../api/index.ts';
import { HOST_API_VERSION, ZwError } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createAjv, type HandlerInfo, IngesterValidator } from '../config/validate.ts';
import { createDestinations } from '../destinations/index.ts';
import { type GuardKind, type GuardOptions, installGuard, type TapFailure } from '../hooks/guard.ts';
import { createHostHooks, type HostHooks } from '../hooks/host-hooks.ts';
import { type CredentialSource, createAuthenticator } from '../http/auth.ts';
import { ClientLimiter, parseCidrs } from '../http/client-limit.ts';
import { lazyUsedSignatures, MemoryUsedSignatures, ReplayGuard } from '../http/replay.ts';
import { createHttpApp, type WebhookCall, type WebhookRoute } from '../http/server.ts';
import { discoverPlugins, importAndRegister, type PluginRecord, registerPluginApiSpecifier } from '../loader/index.ts';
import { type CompiledIngester, Pipeline } from '../pipeline/pipeline.ts';
import { startReadSide } from '../readapi/serve.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { SqliteUsedSignatures } from '../sinks/used-signatures.ts';
import { createDropLogger, createLogger, type Logger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { fileCredentials } from './credentials.ts';
import { IngesterRuntime } from './ingesters.ts';
import type { SecretCredentials } from './kube-credentials.ts';
import { createPluginContext } from './plugin-facade.ts';
import { PluginFaults } from './plugin-faults.ts';
import { publishPluginStatus } from './plugin-status-file.ts';
import { Resolver } from './resolver.ts';
import type { ModeRuntime } from './runtime.ts';
import { createStandaloneRuntime } from './standalone.ts';
import { answerWebhook } from './webhook-answer.ts';

export interface HostOptions {
  env: Readonly<HostEnv>;
  log?: Logger;
  /** Test seam: a sink other than the default for the mode. */
  sink?: ObservationSink;
}

export interface Host {
  readonly mode: RunMode;
  readonly port: number;
  readonly plugins: readonly PluginRecord[];
  readonly ingesters: IngesterRuntime;
  readonly metrics: Metrics;
  readonly sink: ObservationSink;
  /** The read API's own port (kubernetes mode); standalone serves it on `port`. */
  readonly readPort: number | undefined;
  stop(reason?: string): Promise<void>;
}

export function handlerTable(records: readonly PluginRecord[]): Map<string, HandlerInfo> {
  const table = new Map<string, HandlerInfo>();
  for (const r of records) {
    if (r.status !== 'loaded' || !r.manifest) continue;
    for (const handler of r.manifest.sources) {
      table.set(handler, {
        handler,
        plugin: r.name,
        pluginVersion: r.version,
        ingesterTypes: r.manifest.ingesterTypes ?? ['webhook'],
        ...(r.manifest.maxBodyBytes !== undefined ? { maxBodyBytes: r.manifest.maxBodyBytes } : {}),
        ...(r.validateConfig ? { validateConfig: r.validateConfig } : {}),
      });
    }
  }
  return table;
}

/** Chooses the run mode and says why; kubernetes mode is never silently replaced by standalone. */
export function resolveMode(env: Readonly<HostEnv>): { mode: RunMode; why: string } {
  if (env.mode === 'standalone') return { mode: 'standalone', why: 'ZEN_MODE=standalone' };
  if (env.mode === 'kubernetes') return { mode: 'kubernetes', why: 'ZEN_MODE=kubernetes' };
  if (env.inCluster)
    return { mode: 'kubernetes', why: 'running in a pod (KUBERNETES_SERVICE_HOST is set) and ZEN_MODE is unset' };
  return {
    mode: 'standalone',
    why: 'no in-cluster credentials and ZEN_MODE is unset (set ZEN_MODE=kubernetes to use a kubeconfig)',
  };
}

const GUARD_KIND: Record<HookName, GuardKind> = {
  onStart: 'isolate',
  onBecomeLeader: 'isolate',
  onLoseLeadership: 'isolate',
  onWebhook: 'bail',
  onIngesterChanged: 'isolate',
  onObservation: 'waterfall',
  onStop: 'isolate',
  onDeliver: 'bail',
};

function guardHooks(
  hooks: HostHooks,
  deps: {
    metrics: Metrics;
    log: Logger;
    deadlineMs: (h: HookName) => number;
    onFailure: (f: TapFailure) => void;
  } & Pick<GuardOptions, 'around' | 'disabled'>,
) {
  const seen = new Set<string>();
  const onFailure = (f: TapFailure) => {
    deps.metrics.pluginHookErrors.inc({ plugin: f.plugin, hook: f.hook, kind: f.kind });
    const key = `${f.plugin}/${f.hook}/${f.kind}`;
    const err = f.error instanceof Error ? f.error.message : String(f.error);
    if (!seen.has(key)) {
      seen.add(key);
      deps.log.error(
        { plugin: f.plugin, hook: f.hook, kind: f.kind, err },
        `plugin '${f.plugin}' failed in ${f.hook} (${f.kind}); only its own work is affected. Later failures of this kind are logged at debug and counted in zen_watcher_plugin_hook_errors_total`,
      );
    } else deps.log.debug({ plugin: f.plugin, hook: f.hook, kind: f.kind, err }, 'plugin tap failed');
    deps.onFailure(f);
  };
  const opts = (hook: HookName) => ({
    hook,
    kind: GUARD_KIND[hook],
    deadlineMs: () => deps.deadlineMs(hook),
    observe: (plugin: string, h: HookName, s: number) =>
      deps.metrics.pluginHookDuration.observe({ plugin, hook: h }, s),
    onFailure,
    ...(deps.around ? { around: deps.around } : {}),
    ...(deps.disabled ? { disabled: deps.disabled } : {}),
  });
  for (const name of [
    'onStart',
    'onBecomeLeader',
    'onLoseLeadership',
    'onIngesterChanged',
    'onObservation',
    'onStop',
  ] as const) {
    installGuard(hooks[name] as never, opts(name));
  }
  for (const name of ['onWebhook', 'onDeliver'] as const) {
    (hooks[name] as unknown as HookMap<AsyncSeriesBailHook<[unknown], unknown>>).intercept({
      factory: (_key, hook) => {
        installGuard(hook as never, opts(name));
        return hook;
      },
    });
  }
}

export async function startHost(options: HostOptions): Promise<Host> {
  const env = options.env;
  const log = options.log ?? createLogger({ level: env.logLevel });
  const { mode, why } = resolveMode(env);
  log.info({ mode, why }, `zen-watcher starting in ${mode} mode: ${why}`);

  const metrics = createMetrics();
  metrics.buildInfo.set({ version: '0.1.0', host_api: HOST_API_VERSION, node: process.versions.node }, 1);
  metrics.mode.set({ mode }, 1);
  const replicaId = env.podName ?? hostname();

  // Hooks, guarded: timing, deadlines and isolation for every tap.
  const hooks = createHostHooks();
  let faults: PluginFaults | undefined; // once the plugins are found: escaped errors of plugin code (ADR 0015)
  guardHooks(hooks, {
    around: (plugin, call) => (faults ? faults.run(plugin, call) : call()),
    disabled: (plugin) => faults?.disabled(plugin),
    metrics,
    log,
    deadlineMs: (h) =>
      h === 'onDeliver'
        ? 3_600_000 // bounded per Destination by its delivery.timeout (core/destinations/lane.ts)
        : h === 'onLoseLeadership' || h === 'onStop'
          ? env.shutdownTimeoutMs
          : h === 'onObservation'
            ? Math.min(2000, env.hookTimeoutMs)
            : env.hookTimeoutMs,
    onFailure: () => {},
  });

  // The mode: where Observations go, where Ingesters come from, how leadership is decided.
  const runtime: ModeRuntime =
    mode === 'standalone'
      ? createStandaloneRuntime(env, log, options.sink, metrics)
      : // Loaded only in kubernetes mode: standalone never pays for the Kubernetes client.
        await (await import('./kubernetes.ts')).createKubernetesRuntime(env, log, metrics, options.sink);
  // The read API and UI: an index of the Observations, on every replica (core/readapi).
  const readSide = await startReadSide({ mode, env, log, metrics, sink: runtime.sink });
  const sink = readSide.wrapSink(runtime.sink);
  // HMAC replay protection (ADR 0012): used signatures on disk in standalone mode, per replica in kubernetes mode.
  const replay = new ReplayGuard(
    mode === 'standalone'
      ? lazyUsedSignatures(() => new SqliteUsedSignatures(env.dataDir))
      : new MemoryUsedSignatures(),
    (err) => log.warn({ err: (err as Error).message }, 'cannot record a used webhook signature'),
  );

  const dropLog = createDropLogger(log);
  const refuseLog = createDropLogger(log, 'warn');
  let ingesters: IngesterRuntime;
  const pipeline = new Pipeline({
    sink,
    metrics,
    dropLog,
    refuseLog,
    maxDetailsBytes: env.maxDetailsBytes,
    defaultTtlSeconds: env.defaultTtlSeconds,
    dedupMaxEntries: env.dedupMaxEntries,
    maxQueue: env.maxQueue,
    maxQueuePerSource: env.maxQueuePerSource,
    webhookWindowMs: env.dedupWindowSeconds * 1000,
    occurrenceIntervalMs: env.occurrenceFlushMs,
    ownNamespaces: env.watchNamespaces,
    enrich: async (draft, ing) =>
      hooks.onObservation.taps.length > 0 ? hooks.onObservation.promise(draft, { ingester: ing.view }) : draft,
  });

  // Plugins: admit by manifest, then import and register.
  registerPluginApiSpecifier();
  const ajv = createAjv();
  const plugins = discoverPlugins([env.builtinPluginDir, ...env.pluginDirs], { ajv, hostApiVersion: HOST_API_VERSION });
  faults = new PluginFaults(plugins, {
    log,
    metrics,
    limit: env.pluginFaultLimit,
    windowMs: env.pluginFaultWindowMs,
    onChange: (records) => publishPluginStatus(env.dataDir, records, log),
  });
  const active = (view: IngesterView) => {
    const ci = ingesters.get(`${view.namespace}/${view.name}`);
    if (!ci) throw new Error(`Ingester ${view.namespace}/${view.name} is not active`);
    return ci;
  };
  const emit = async (view: IngesterView, drafts: ObservationDraft[], signal?: AbortSignal): Promise<EmitResult> => {
    const r = await pipeline.process(active(view), drafts, 'informer', signal);
    return { created: r.created, duplicates: r.duplicates, filtered: r.filtered, dropped: r.dropped };
  };
  // Resolution of informer findings needs the cluster's Observations: kubernetes mode only.
  const resolver = runtime.index
    ? new Resolver({
        pipeline,
        index: runtime.index,
        graceMs: env.resolveAfterMs,
        canAct: () => runtime.canActAsLeader(),
        onPhase: (transition, n) => metrics.resolved.inc({ transition }, n),
        onUpdated: (source, n) => metrics.updated.inc({ source }, n),
      })
    : undefined;
  const needsResolver = () => {
    if (!resolver) throw new Error('reconcile needs kubernetes mode (informer sources do not run standalone)');
    return resolver;
  };
  const reconcile = async (view: IngesterView, scope: string, drafts: ObservationDraft[], signal?: AbortSignal) =>
    needsResolver().reconcile(active(view), scope, drafts, signal);
  const reconcileScopes = async (view: IngesterView, live: readonly string[], signal?: AbortSignal) =>
    needsResolver().reconcileScopes(active(view), live, signal);
  for (const record of plugins) {
    await importAndRegister(
      record,
      (r) =>
        createPluginContext(r, {
          hooks,
          log,
          metrics,
          kube: runtime.kube,
          ingesters: (h) => ingesters.views(h),
          emit,
          reconcile,
          reconcileScopes,
        }),
      env.hookTimeoutMs,
      faults,
    );
    metrics.plugins.set({ plugin: record.name, version: record.version, status: record.status }, 1);
    if (record.status === 'loaded')
      log.info({ plugin: record.name, version: record.version, dir: record.dir }, 'plugin loaded');
    else
      log.warn(
        { plugin: record.name, version: record.version, dir: record.dir, status: record.status, reason: record.reason },
        `plugin ${record.status}; skipped, the others keep running`,
      );
  }
  const handlers = handlerTable(plugins);
  const destinations = await createDestinations({
    ...{ mode, env, hooks, metrics, log, ajv, plugins, sink },
    kube: runtime.destinations,
  });

  // Ingesters.
  ingesters = new IngesterRuntime({
    pipeline,
    hooks,
    log,
    metrics,
    makeRoute: (ci) =>
      webhookRoute(ci, { env, hooks, pipeline, log, metrics, secrets: runtime.secretCredentials, replay }),
  });
  const validator = new IngesterValidator({
    ajv,
    handlers: (h) => handlers.get(h),
    knownHandlers: () => [...handlers.keys()],
  });
  await runtime.startIngesters({
    validator,
    apply: async (valid, rejected) => {
      await ingesters.replace(valid, rejected);
      await destinations.setIngesters(ingesters.active());
    },
  });

  // HTTP: every replica serves webhooks; readiness never depends on leadership.
  let stopping = false;
  // Ready only after every plugin's onStart ran (its contract: before the replica reports ready).
  let started = false;
  const app = createHttpApp({
    routes: () => ingesters.routes,
    clientLimiter:
      env.clientRateLimitRps > 0 ? new ClientLimiter(env.clientRateLimitRps, env.clientRateLimitBurst) : undefined,
    trustedProxies: env.trustedProxyCidrs.length ? parseCidrs(env.trustedProxyCidrs) : undefined,
    requireClientCert: env.tlsClientCaFile !== undefined,
    maxUrlLength: env.maxUrlBytes,
    live: () => runtime.live(),
    ready: () =>
      stopping
        ? { ok: false, reason: 'shutting down' }
        : !started
          ? { ok: false, reason: 'starting' }
          : sink.ready()
            ? { ok: true }
            : { ok: false, reason: sink.notReadyReason?.() ?? 'sink not usable' },
    metrics,
    log,
    extra: readSide.middleware,
  });
  const server = createServer(env, app.callback());
  server.listen({ port: env.port, host: env.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, routes: [...ingesters.routes.keys()] }, `listening on :${port}`);

  await hooks.onStart.promise({ mode, replicaId });
  started = true;

  runtime.startLeadership({
    started: async (term) => {
      log.info({ identity: term.identity }, 'leader term started: starting leader-only work');
      // Tick often enough that a short grace period is not dominated by the tick (5 s for the default 600 s).
      const tickMs = Math.min(5000, Math.max(1000, env.resolveAfterMs / 2));
      if (resolver) void resolveLoop(resolver, term.signal, log, tickMs, (n) => metrics.resolvePending.set(n));
      destinations.start(term.signal);
      await hooks.onBecomeLeader.promise(term);
    },
    stopped: async (term) => {
      log.info({ identity: term.identity }, 'leader term ended: leader-only work stopped');
      await hooks.onLoseLeadership.promise(term);
    },
  });

  let stopped: Promise<void> | undefined;
  const stop = (reason = 'stop requested') =>
    (stopped ??= (async () => {
      log.info({ reason }, 'shutting down');
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // 1. Leader work stops and the Lease is released first, so a follower takes over at once.
      await runtime.stopLeadership(reason);
      await destinations.close();
      // 2. Admitted webhook events are written before the process goes.
      const deadline = Date.now() + env.shutdownTimeoutMs;
      while (pipeline.busy > 0 && Date.now() < deadline) await sleep(20);
      if (pipeline.busy > 0)
        log.error({ busy: pipeline.busy }, 'shutdown deadline passed with accepted events not yet written');
      await pipeline.close(); // pending occurrence counts
      await hooks.onStop.promise({ reason });
      server.closeAllConnections();
      await closed;
      await readSide.close();
      await runtime.close();
      replay.close();
      log.info('stopped');
    })());

  return { mode, port, plugins, ingesters, metrics, sink: runtime.sink, readPort: readSide.port, stop };
}

/** HTTP, or HTTPS (optionally requesting client certificates: mTLS) when ZEN_TLS_CERT_FILE is set; with limits. */
function createServer(env: Readonly<HostEnv>, handler: RequestListener): Server {
  // Timeouts are enforced by a sweep every connectionsCheckingInterval: keep it short so slow clients go in time.
  const common = {
    maxHeaderSize: env.maxHeaderBytes,
    requestTimeout: env.requestTimeoutMs,
    headersTimeout: env.headersTimeoutMs,
    keepAliveTimeout: env.idleTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, env.headersTimeoutMs),
  };
  const server: Server =
    env.tlsCertFile && env.tlsKeyFile
      ? createHttpsServer(
          {
            ...common,
            cert: readFileSync(env.tlsCertFile),
            key: readFileSync(env.tlsKeyFile),
            minVersion: 'TLSv1.2',
            // Client certificates are requested and verified against the CA; webhook paths then require one, while
            // health probes (which present none) still work.
            ...(env.tlsClientCaFile
              ? { ca: readFileSync(env.tlsClientCaFile), requestCert: true, rejectUnauthorized: false }
              : {}),
          },
          handler,
        )
      : createHttpServer(common, handler);
  return server;
}

const warnedUnauthenticated = new Set<string>();

function webhookRoute(
  ci: CompiledIngester,
  deps: {
    env: Readonly<HostEnv>;
    hooks: HostHooks;
    pipeline: Pipeline;
    log: Logger;
    metrics: Metrics;
    secrets: SecretCredentials | undefined;
    replay: ReplayGuard;
  },
): WebhookRoute {
  const spec = ci.config.spec;
  const handler = ci.config.handler;
  const auth = spec.webhook!.auth;
  let source: CredentialSource | undefined;
  if (auth?.secretFile) source = fileCredentials(auth.secretFile);
  else if (auth?.secretRef) {
    const key = auth.secretRef.key ?? (auth.type === 'hmac' ? 'secret' : 'token');
    const ref = auth.secretRef;
    source = deps.secrets
      ? deps.secrets(ci.config.namespace, ref.name, key)
      : () => {
          throw new Error('secretRef needs kubernetes mode; use secretFile in standalone mode');
        };
  }
  const authenticator = createAuthenticator(auth, source, { replay: deps.replay, scope: ci.config.key });
  if (!authenticator && !warnedUnauthenticated.has(ci.config.key)) {
    warnedUnauthenticated.add(ci.config.key);
    deps.log.warn(
      { ingester: ci.config.key, path: spec.webhook!.path },
      `webhook ${spec.webhook!.path} is unauthenticated: anyone who can reach the port can post; set spec.webhook.auth (docs/SECURITY.md)`,
    );
  }
  return {
    authenticator,
    path: spec.webhook!.path,
    methods: spec.webhook!.methods ?? ['POST'],
    maxBodyBytes: spec.webhook!.maxBodyBytes ?? handler.maxBodyBytes ?? deps.env.maxBodyBytes,
    endpoint: spec.source,
    admit: () => deps.pipeline.admit(ci),
    async handle(call: WebhookCall) {
      const hook = deps.hooks.onWebhook.get(handler.handler);
      if (!hook?.taps.length) {
        throw new ZwError(
          'ZW_ERR_PLUGIN_FAILED',
          `plugin '${handler.plugin}' registered no webhook handler for '${handler.handler}'`,
        );
      }
      const timeout = AbortSignal.timeout(deps.env.hookTimeoutMs);
      const request: WebhookRequest = {
        ingester: ci.config.view,
        body: call.body,
        rawBody: call.rawBody,
        headers: call.headers,
        contentType: call.contentType,
        jsonLines: call.jsonLines,
        signal: AbortSignal.any([call.signal, timeout]),
      };
      if (deps.env.logPayloads) {
        // Off by default; truncated when on, and never with headers (they may carry credentials).
        deps.log.debug(
          {
            ingester: ci.config.key,
            bytes: call.rawBody.length,
            payload: call.rawBody.subarray(0, 512).toString('utf8'),
          },
          'webhook payload',
        );
      }
      let drafts = (await hook.promise(request)) ?? [];
      if (!Array.isArray(drafts)) {
        throw new ZwError(
          'ZW_ERR_PLUGIN_FAILED',
          `plugin '${handler.plugin}' returned ${typeof drafts} instead of an array of drafts`,
        );
      }
      // A signed request's events without their own time take the signed one: a replay of it then derives the
      // same Observation names on any replica, after any restart, and is a duplicate (ADR 0012).
      if (call.signedAt !== undefined) drafts = datedDrafts(drafts, call.signedAt);
      // Once admitted, the work finishes even if the client leaves; the answer waits up to ackWaitMs for the write.
      return answerWebhook(deps.pipeline.process(ci, drafts, 'webhook'), drafts.length, deps.env.ackWaitMs, (r) =>
        deps.metrics.dropped.inc({ source: spec.source, reason: r.refusal?.reason ?? 'write_failed' }, r.refused),
      );
    },
  };
}

function datedDrafts(drafts: ObservationDraft[], signedAt: number): ObservationDraft[] {
  const at = new Date(signedAt).toISOString();
  return drafts.map((d) =>
    d &&
    typeof d === 'object' &&
    (d.detectedAt === undefined || (d.detectedAt as unknown) === null || d.detectedAt === '')
      ? { ...d, detectedAt: at }
      : d,
  );
}

/** On the leader: resolve findings whose grace period has passed, until the term ends. */
async function resolveLoop(
  resolver: Resolver,
  signal: AbortSignal,
  log: Logger,
  tickMs: number,
  pending: (n: number) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const n = await resolver.tick(signal);
      if (n > 0) log.info({ resolved: n }, 'resolved findings no longer reported');
    } catch (err) {
      if (!signal.aborted) log.warn({ err: (err as Error).message }, 'resolving findings failed; retrying');
    }
    pending(resolver.pending);
    await sleep(tickMs, undefined, { signal }).catch(() => {});
  }
  pending(0); // the missing-since clocks live in the term: a follower holds none
}
