/**
 * Kubernetes mode: credentials from KUBECONFIG or the pod's service account (an unreachable cluster is a startup
 * error, never a fallback); Observations as resources; Ingesters watched on every replica, their status written by
 * the leader; leadership from a Lease (client-go algorithm, core/leader); Observation GC on the leader.
 *
 * Leader work hangs off the term's AbortSignal: informers the plugins start in onBecomeLeader, the GC loop, and the
 * status writer all stop when it fires. Every leader-only write asks `canActAsLeader()` first (DESIGN §7).
 * The election itself (Lease lock, elector, Lease watch) is in kube-election.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LeaderTerm } from '../api/index.ts';
import { ZwError } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createKubeDestinations } from '../destinations/kube-feed.ts';
import { startGcLoop } from '../gc/index.ts';
import { createKubeApi, type KubeApi } from '../kube/api.ts';
import { checkReachable, loadKubeConfig } from '../kube/client.ts';
import type { LeaderElector } from '../leader/index.ts';
import { shardWork } from '../shard/context.ts';
import { ShardCoordinator } from '../shard/coordinator.ts';
import { ShardHub } from '../shard/hub.ts';
import { slotOf } from '../shard/slots.ts';
import { KubeObservationSink, OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { createIngesterWatch, INGESTER_GVR } from './ingester-watch.ts';
import { kubeSecretCredentials } from './kube-credentials.ts';
import { startKubeElection } from './kube-election.ts';
import { kubeObservationIndex } from './kube-index.ts';
import { createPluginKube, informerMetrics } from './plugin-kube.ts';
import type { LeadershipCallbacks, ModeRuntime } from './runtime.ts';

export { INGESTER_GVR };

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
/** How long the API server may take to answer the first request (reachability check) at startup. */
const REACHABLE_TIMEOUT_MS = 10_000;

export async function createKubernetesRuntime(
  env: Readonly<HostEnv>,
  log: Logger,
  metrics: Metrics,
  sinkOverride?: ObservationSink,
): Promise<ModeRuntime> {
  const kc = loadKubeConfig({
    ...(env.kubeconfig ? { kubeconfigPath: env.kubeconfig } : {}),
    inCluster: env.inCluster && !env.kubeconfig,
  });
  const { gitVersion } = await checkReachable(kc, REACHABLE_TIMEOUT_MS);
  const server = kc.getCurrentCluster()?.server;
  const leaseNamespace =
    env.podNamespace ?? (existsSync(SA_NAMESPACE_FILE) ? readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() : undefined);
  if (!leaseNamespace)
    throw new ZwError(
      'ZW_ERR_CONFIG',
      'kubernetes mode: POD_NAMESPACE is not set and no service account namespace is mounted; the leader-election Lease needs a namespace',
    );
  // client-go's default identity: unique per process even when two share a hostname.
  const identity = env.podName ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
  log.info(
    {
      server,
      version: gitVersion,
      identity,
      lease: `${leaseNamespace}/${env.leaderElectionId}`,
      watchNamespaces: env.watchNamespaces.length ? env.watchNamespaces : 'all',
    },
    'connected to the Kubernetes API server',
  );

  let elector: LeaderElector | undefined;
  // Sharded informer work (ADR 0020): inside a leader-work run of a sharded replica the guard is the run's epoch
  // (its slots held and fresh); everywhere else it is the leader's.
  const canActAsLeader = () => {
    const work = shardWork.getStore();
    return work ? work.epoch.canAct() : (elector?.canActAsLeader() ?? false);
  };
  const shard =
    env.shardSlots > 1
      ? new ShardHub(env.shardSlots, {
          onChange: (owned) => {
            metrics.shardRebalances.inc();
            log.info(
              { owned, slots: env.shardSlots },
              `informer work (re)starts on ${owned} of ${env.shardSlots} shard slots`,
            );
          },
        })
      : undefined;
  let coordinator: ShardCoordinator | undefined;
  metrics.shardSlots.set(env.shardSlots);
  const sink =
    sinkOverride ??
    new KubeObservationSink({
      kubeConfig: kc,
      qps: env.kubeWriteQps,
      burst: env.kubeWriteBurst,
      canActAsLeader,
      onConflict: () => metrics.occurrenceWrites.inc({ outcome: 'conflict' }),
    });
  const api: KubeApi = createKubeApi(kc);
  const watched = env.watchNamespaces;
  const stop = new AbortController();

  const kube = createPluginKube({
    kc,
    log,
    metrics,
    watched,
    namespaceWatches: env.shardNamespaceWatches,
    signal: stop.signal,
  });
  // Ingesters: every replica watches them and runs the valid ones; the leader writes their status.
  const ingesterWatch = createIngesterWatch({ kube, api, log, canActAsLeader, signal: stop.signal });

  // The resolver's Observations: a watch-fed cache on the leader, for its term only (kube-index.ts).
  const index = kubeObservationIndex(api, watched, canActAsLeader, {
    kubeConfig: kc,
    log: log.child({ component: 'observation-cache' }),
    metrics: informerMetrics(metrics),
    onPreconditionFailed: () => metrics.fencedConflicts.inc({ write: 'status' }),
  });

  const secretCredentials = kubeSecretCredentials(kc, log, stop.signal);
  let term: { info: LeaderTerm; callbacks: LeadershipCallbacks } | undefined;
  let run: Promise<void> | undefined;

  return {
    sink,
    kube,
    index,
    ...(shard ? { shard } : {}),
    secretCredentials,
    destinations: createKubeDestinations({
      kc,
      api,
      namespaces: watched,
      log,
      canAct: canActAsLeader,
      secretCredentials,
      signal: stop.signal,
      informerMetrics: informerMetrics(metrics),
    }),
    startIngesters: (feed) => ingesterWatch.start(feed),
    startLeadership(callbacks: LeadershipCallbacks) {
      if (shard) {
        // Every replica holding a slot keeps the resolver's Observation cache for its epoch (ADR 0011, 0020).
        shard.onEpoch((e) => index.cacheFor(e.signal, (ingester, ns) => e.owned.has(slotOf(ingester, ns, e.slots))));
        coordinator = new ShardCoordinator({
          kubeConfig: kc,
          namespace: leaseNamespace,
          electionId: env.leaderElectionId,
          identity,
          slots: env.shardSlots,
          leaseDurationMs: env.leaseDurationMs,
          renewDeadlineMs: env.renewDeadlineMs,
          retryPeriodMs: env.retryPeriodMs,
          log,
          metrics,
          traceFile: env.shardTraceFile,
          listener: shard,
        });
        shard.attach(coordinator);
        coordinator.start();
      }
      ({ elector, run } = startKubeElection({
        kc,
        env,
        log,
        metrics,
        leaseNamespace,
        identity,
        signal: stop.signal,
        onStartedLeading: async (info) => {
          term = { info, callbacks };
          // Sharded, the cache follows the shard epochs instead (above).
          if (!shard) index.cacheFor(info.signal);
          void startGcLoop({
            api,
            namespaces: watched.length ? watched : 'all',
            defaultTtlSeconds: env.defaultTtlSeconds,
            intervalMs: env.gcIntervalSeconds * 1000,
            canAct: canActAsLeader,
            signal: info.signal,
            log: log.child({ component: 'gc' }),
            metrics: {
              run: (r, seconds) => {
                metrics.gcRuns.inc({ stopped: r.stopped });
                metrics.gcDuration.observe(seconds);
                metrics.gcDeleted.inc({ reason: 'ttl' }, r.deleted);
                metrics.fencedConflicts.inc({ write: 'delete' }, r.conflicts);
              },
            },
          });
          ingesterWatch.syncStatus();
          await callbacks.started(info);
        },
        onStoppedLeading: async () => {
          const t = term;
          term = undefined;
          if (t) await t.callbacks.stopped(t.info);
        },
      }));
    },
    canActAsLeader,
    live: () => elector?.healthy(env.renewDeadlineMs) ?? { ok: true },
    async stopLeadership(reason: string) {
      log.info({ reason }, 'stopping leader election (releasing the Lease if held)');
      // The shard slots and the leader Lease are handed over in parallel, each after its work stopped.
      const slots = coordinator?.stop();
      stop.abort(new ZwError('ZW_ERR_ABORTED', reason));
      await Promise.all([run, slots]);
      shard?.close();
    },
    async close() {
      stop.abort(new ZwError('ZW_ERR_ABORTED', 'closing'));
      await sink.close();
      await api.close();
    },
  };
}

export { OBSERVATION_GVR };
