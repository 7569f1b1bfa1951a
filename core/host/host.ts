/**
 * The host: the process around the host core (core.ts). It picks the mode, builds the core with that mode's sink,
 * Kubernetes facade and index, starts the Ingesters and the HTTP listener, runs the lifecycle hooks in their order,
 * and shuts down gracefully:
 *
 *   start:  plugins → Ingesters → sink → HTTP listen → onStart → ready → (leader) onBecomeLeader
 *   stop:   not ready → stop accepting → end the leader term and release the Lease (onLoseLeadership) →
 *           drain accepted webhook work → onStop → close
 */
import { hostname } from 'node:os';
import { HOST_API_VERSION, type RunMode } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createDestinations } from '../destinations/index.ts';
import { lazyUsedSignatures, MemoryUsedSignatures, ReplayGuard } from '../http/replay.ts';
import { webhookRouteFactory } from '../http/webhook-route.ts';
import type { PluginRecord } from '../loader/index.ts';
import { startReadSide } from '../readapi/serve.ts';
import type { ObservationSink } from '../sinks/types.ts';
import { SqliteUsedSignatures } from '../sinks/used-signatures.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';
import { createMetrics, type Metrics } from '../telemetry/metrics.ts';
import { createHostCore } from './core.ts';
import { credentialsOf } from './credentials.ts';
import { listenHttp } from './http-listener.ts';
import { asksPreviousBucket, indexReadiness } from './index-readiness.ts';
import type { IngesterRuntime } from './ingesters.ts';
import { resolveMode } from './mode.ts';
import { publishPluginStatus } from './plugin-status-file.ts';
import { resolveLoop } from './resolve-loop.ts';
import type { ModeRuntime } from './runtime.ts';
import { createStandaloneRuntime } from './standalone.ts';
import { HOST_VERSION } from './version.ts';

export { resolveMode } from './mode.ts';

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

export async function startHost(options: HostOptions): Promise<Host> {
  const env = options.env;
  const log = options.log ?? createLogger({ level: env.logLevel });
  const { mode, why } = resolveMode(env);
  log.info({ mode, why, version: HOST_VERSION }, `zen-watcher ${HOST_VERSION} starting in ${mode} mode: ${why}`);

  const metrics = createMetrics();
  metrics.buildInfo.set({ version: HOST_VERSION, host_api: HOST_API_VERSION, node: process.versions.node }, 1);
  metrics.mode.set({ mode }, 1);
  const replicaId = env.podName ?? hostname();

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

  const core = createHostCore({
    env,
    log,
    metrics,
    sink,
    kube: runtime.kube,
    index: runtime.index,
    canActAsLeader: () => runtime.canActAsLeader(),
    ...(runtime.shard ? { shard: runtime.shard } : {}),
    routes: (c) =>
      webhookRouteFactory({
        maxBodyBytes: env.maxBodyBytes,
        ackWaitMs: env.ackWaitMs,
        ackPending: env.ackPending,
        logPayloads: env.logPayloads,
        log,
        metrics,
        pipeline: c.pipeline,
        credentials: (ci) => credentialsOf(ci, runtime.secretCredentials),
        replay,
        drafts: c.webhookDrafts,
      }),
    faults: {
      limit: env.pluginFaultLimit,
      windowMs: env.pluginFaultWindowMs,
      onChange: (records) => publishPluginStatus(env.dataDir, records, log),
    },
  });
  const { pipeline, resolver, ingesters } = core;
  const plugins = await core.loadPlugins([env.builtinPluginDir, ...env.pluginDirs]);
  const destinations = await createDestinations({
    ...{ mode, env, hooks: core.hooks, metrics, log, ajv: core.ajv, plugins, sink },
    kube: runtime.destinations,
  });
  // Kubernetes mode: the read index answers deduplicated Ingesters' previous-bucket questions, so it starts with the
  // first such Ingester rather than at its first alert, and at start /readyz waits for it (bounded; ADR 0033).
  const needsIndex = () => mode === 'kubernetes' && ingesters.active().some(asksPreviousBucket);
  await runtime.startIngesters({
    validator: core.validator,
    apply: async (valid, rejected) => {
      await ingesters.replace(valid, rejected);
      await destinations.setIngesters(ingesters.active());
      if (needsIndex()) readSide.prepare();
    },
  });
  const indexReady = indexReadiness({
    needed: needsIndex(),
    waitMs: env.readyIndexWaitSeconds * 1000,
    synced: () => readSide.index.synced,
    size: () => readSide.index.size,
    log,
  });

  // HTTP: every replica serves webhooks; readiness never depends on leadership.
  let stopping = false;
  // Ready only after every plugin's onStart ran (its contract: before the replica reports ready).
  let started = false;
  const { server, port } = await listenHttp({
    env,
    log,
    metrics,
    routes: () => ingesters.routes,
    live: () => runtime.live(),
    ready: () => {
      if (stopping) return { ok: false, reason: 'shutting down' };
      if (!started) return { ok: false, reason: 'starting' };
      const indexWait = indexReady.waiting();
      if (indexWait) return { ok: false, reason: indexWait };
      return sink.ready() ? { ok: true } : { ok: false, reason: sink.notReadyReason?.() ?? 'sink not usable' };
    },
    extra: readSide.middleware,
  });

  await core.hooks.onStart.promise({ mode, replicaId });
  started = true;

  runtime.startLeadership({
    started: async (term) => {
      log.info({ identity: term.identity }, 'leader term started: starting leader-only work');
      // Tick often enough that a short grace period is not dominated by the tick (5 s for the default 600 s).
      const tickMs = Math.min(5000, Math.max(1000, env.resolveAfterMs / 2));
      // Sharded, the resolve loop runs for the life of the process instead (below): every slot holder resolves.
      if (resolver && !runtime.shard)
        void resolveLoop(resolver, term.signal, log, tickMs, (n) => metrics.resolvePending.set(n));
      destinations.start(term.signal);
      await core.hooks.onBecomeLeader.promise(term);
    },
    stopped: async (term) => {
      log.info({ identity: term.identity }, 'leader term ended: leader-only work stopped');
      await core.hooks.onLoseLeadership.promise(term);
    },
  });

  const lifetime = new AbortController();
  if (resolver && runtime.shard) {
    const tickMs = Math.min(5000, Math.max(1000, env.resolveAfterMs / 2));
    void resolveLoop(resolver, lifetime.signal, log, tickMs, (n) => metrics.resolvePending.set(n));
  }

  let stopped: Promise<void> | undefined;
  const stop = (reason = 'stop requested') =>
    (stopped ??= (async () => {
      log.info({ reason }, 'shutting down');
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // 1. Leader work stops and the Lease is released first, so a follower takes over at once.
      await runtime.stopLeadership(reason);
      lifetime.abort();
      await destinations.close();
      // 2. Admitted webhook events are written before the process goes.
      if (!(await pipeline.whenIdle(env.shutdownTimeoutMs)))
        log.error({ busy: pipeline.busy }, 'shutdown deadline passed with accepted events not yet written');
      await pipeline.close(); // pending occurrence counts
      await core.hooks.onStop.promise({ reason });
      server.closeAllConnections();
      await closed;
      await readSide.close();
      await runtime.close();
      replay.close();
      log.info('stopped');
    })());

  return { mode, port, plugins: core.plugins, ingesters, metrics, sink: runtime.sink, readPort: readSide.port, stop };
}
