/**
 * Kubernetes mode: credentials from KUBECONFIG or the pod's service account (an unreachable cluster is a startup
 * error, never a fallback); Observations as resources; Ingesters watched on every replica, their status written by
 * the leader; leadership from a Lease (client-go algorithm, core/leader); Observation GC on the leader.
 *
 * Leader work hangs off the term's AbortSignal: informers the plugins start in onBecomeLeader, the GC loop, and the
 * status writer all stop when it fires. Every leader-only write asks `canActAsLeader()` first (DESIGN §7).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { V1LeaseSpec } from '@kubernetes/client-node';
import type { InformerEvents, InformerOptions, LeaderTerm, PluginKube } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { type Rejected, resolveConflicts } from '../config/ingester-set.ts';
import type { IngesterConfig, IngesterValidator } from '../config/validate.ts';
import { createKubeDestinations } from '../destinations/kube-feed.ts';
import { startGcLoop } from '../gc/index.ts';
import { createKubeApi, type KubeApi, type KubeObject } from '../kube/api.ts';
import { checkReachable, hasResource, loadKubeConfig, resourceScope } from '../kube/client.ts';
import { createInformer } from '../kube/informer.ts';
import {
  createLeaderElector,
  type LeaderElector,
  LeaseLock,
  leaseRequestTimeoutMs,
  leaseSpecToRecord,
  rawRecord,
} from '../leader/index.ts';
import { KubeObservationSink, OBSERVATION_GVR } from '../sinks/kube-sink.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { desiredStatus, type IngesterStatus, type Outcome, sameStatus } from './ingester-status.ts';
import { kubeSecretCredentials } from './kube-credentials.ts';
import { kubeObservationIndex } from './kube-index.ts';
import { pluginInformerTiming, pluginTransform } from './plugin-informer.ts';
import type { IngesterFeed, LeadershipCallbacks, ModeRuntime } from './runtime.ts';

export const INGESTER_GVR = Object.freeze({ group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'ingesters' });
const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

interface IngesterObject extends KubeObject {
  spec?: unknown;
  status?: IngesterStatus;
}

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
  const { gitVersion } = await checkReachable(kc, 10_000);
  const server = kc.getCurrentCluster()?.server;
  const leaseNamespace =
    env.podNamespace ?? (existsSync(SA_NAMESPACE_FILE) ? readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() : undefined);
  if (!leaseNamespace)
    throw new Error(
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
  const canActAsLeader = () => elector?.canActAsLeader() ?? false;
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

  const informerMetrics = {
    restarts: (gvr: string, reason?: string) => metrics.informerRestarts.inc({ gvr, reason: reason ?? 'error' }),
    relistDiff: (gvr: string, n: number) => metrics.informerRelistDiff.inc({ gvr }, n),
    transformError: (gvr: string) => metrics.informerTransformErrors.inc({ gvr }),
  };
  /** Plugins' informers, scoped to WATCH_NAMESPACE: one watch per watched namespace, or cluster-wide. */
  const kube: PluginKube = Object.freeze({
    informer: async <T>(options: InformerOptions, plugin: InformerEvents<T>) => {
      // zen_watcher_informer_synced: 0 from the start until the plugin handled the first complete list, 0 once stopped.
      const gvr = `${options.group || 'core'}/${options.version}/${options.resource}`;
      metrics.informerSynced.set({ gvr }, 0);
      options.signal.addEventListener('abort', () => metrics.informerSynced.set({ gvr }, 0), { once: true });
      const events: InformerEvents<T> = {
        ...plugin,
        synced: async (objects: T[]) => {
          try {
            await plugin.synced?.(objects);
          } finally {
            // After the plugin handled the complete list: "caught up", not only "listed".
            metrics.informerSynced.set({ gvr }, 1);
            metrics.informerLastSync.set({ gvr }, Date.now() / 1000);
          }
        },
      };
      const transform = pluginTransform(options);
      const deps = {
        log: log.child({ informer: `${options.group}/${options.version}/${options.resource}` }),
        metrics: informerMetrics,
        timing: pluginInformerTiming,
        ...(transform ? { transform } : {}),
      };
      if (options.namespace !== undefined && options.namespace !== '') {
        if (watched.length && !watched.includes(options.namespace)) {
          throw new Error(`namespace '${options.namespace}' is outside WATCH_NAMESPACE (${watched.join(',')})`);
        }
        return createInformer<T>(kc, options, events, deps);
      }
      if (watched.length === 0) return createInformer<T>(kc, options, events, deps);
      // Cluster-scoped resources have no namespaces to split by: one cluster-wide watch (RBAC permitting).
      const scope = await resourceScope(kc, options.group, options.version, options.resource).catch(
        () => 'namespaced' as const,
      );
      if (scope === 'cluster') return createInformer<T>(kc, options, events, deps);
      // One watch per watched namespace, but `synced` keeps its meaning — every object in scope — so a plugin that
      // reconciles on it never resolves another namespace's findings: it fires with the union once all have listed.
      const latest = new Map<string, T[]>();
      const perNamespace = (ns: string): InformerEvents<T> =>
        events.synced
          ? {
              ...events,
              synced: async (objects: T[]) => {
                latest.set(ns, objects);
                if (latest.size === watched.length) await events.synced!([...latest.values()].flat());
              },
            }
          : events;
      await Promise.all(
        watched.map((ns) => createInformer<T>(kc, { ...options, namespace: ns }, perNamespace(ns), deps)),
      );
    },
    hasResource: (group: string, version: string, resource: string) => hasResource(kc, group, version, resource),
    watchNamespaces: Object.freeze([...watched]),
  });

  // Ingesters: every replica watches them and runs the valid ones; the leader writes their status.
  const objects = new Map<string, IngesterObject>();
  let outcomes = new Map<string, Outcome>();
  const statusWriter = createStatusWriter({ api, log, canActAsLeader });

  // The resolver's Observations: a watch-fed cache on the leader, for its term only (kube-index.ts).
  const index = kubeObservationIndex(api, watched, canActAsLeader, {
    kubeConfig: kc,
    log: log.child({ component: 'observation-cache' }),
    metrics: informerMetrics,
  });

  const secretCredentials = kubeSecretCredentials(kc, log, stop.signal);
  let term: { info: LeaderTerm; callbacks: LeadershipCallbacks } | undefined;
  let run: Promise<void> | undefined;

  return {
    sink,
    kube,
    index,
    secretCredentials,
    destinations: createKubeDestinations({
      kc,
      api,
      namespaces: watched,
      log,
      canAct: canActAsLeader,
      secretCredentials,
      signal: stop.signal,
      informerMetrics,
    }),
    async startIngesters(feed: IngesterFeed) {
      let firstSync!: () => void;
      const synced = new Promise<void>((r) => (firstSync = r));
      let pending: NodeJS.Timeout | undefined;
      const recompute = async () => {
        outcomes = evaluate([...objects.values()], feed.validator);
        const valid = [...outcomes.values()].flatMap((o) => (o.kind === 'active' ? [o.ingester] : []));
        const rejected = [...outcomes.values()].flatMap((o) => (o.kind === 'rejected' ? [o.rejected] : []));
        await feed.apply(valid, rejected);
        statusWriter.sync(objects, outcomes);
      };
      // Bursts of events (a relist) become one recomputation.
      const schedule = () => {
        clearTimeout(pending);
        pending = setTimeout(
          () =>
            void recompute().catch((err) => log.error({ err: (err as Error).message }, 'applying Ingesters failed')),
          50,
        );
      };
      const key = (o: IngesterObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      void kube
        .informer<IngesterObject>(
          {
            group: INGESTER_GVR.group,
            version: INGESTER_GVR.version,
            resource: INGESTER_GVR.plural,
            signal: stop.signal,
          },
          {
            add: (o) => {
              objects.set(key(o), o);
              schedule();
            },
            update: (o) => {
              objects.set(key(o), o);
              schedule();
            },
            delete: (o) => {
              objects.delete(key(o));
              schedule();
            },
            synced: (all) => {
              for (const o of all) objects.set(key(o), o);
              schedule();
              firstSync();
            },
          },
        )
        .catch((err) => log.error({ err: (err as Error).message }, 'Ingester watch stopped'));
      await Promise.race([
        synced,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('Ingester list did not complete within 30 s')), 30_000),
        ),
      ]);
      clearTimeout(pending);
      await recompute();
    },
    startLeadership(callbacks: LeadershipCallbacks) {
      const lock = new LeaseLock({
        kubeConfig: kc,
        namespace: leaseNamespace,
        name: env.leaderElectionId,
        identity,
        requestTimeoutMs: leaseRequestTimeoutMs(env.renewDeadlineMs),
      });
      const lease = lock.describe();
      elector = createLeaderElector({
        lock,
        leaseDurationMs: env.leaseDurationMs,
        renewDeadlineMs: env.renewDeadlineMs,
        retryPeriodMs: env.retryPeriodMs,
        log,
        metrics: {
          leaderOn: () => metrics.leader.set({ lease }, 1),
          leaderOff: () => metrics.leader.set({ lease }, 0),
          transition: () => metrics.leaderTransitions.inc({ lease }),
          renewLatency: (_l, s) => metrics.leaderRenewDuration.observe({ lease }, s),
          slowPath: () => metrics.leaderSlowPath.inc({ lease }),
          failover: (_l, seconds, previous) => metrics.leaderFailover.observe({ lease, previous }, seconds),
        },
        callbacks: {
          onStartedLeading: async (info) => {
            term = { info, callbacks };
            index.cacheFor(info.signal);
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
                },
              },
            });
            statusWriter.sync(objects, outcomes);
            await callbacks.started(info);
          },
          onStoppedLeading: async () => {
            const t = term;
            term = undefined;
            if (t) await t.callbacks.stopped(t.info);
          },
          onNewLeader: (holder) => {
            metrics.leaderInfo.reset();
            metrics.leaderInfo.set({ lease, holder }, 1);
            log.info({ leader: holder, lease }, `leader is now ${holder}`);
          },
        },
      });
      metrics.leader.set({ lease }, 0);
      // Followers watch the Lease and hand every record they see to the elector: a release (graceful shutdown) is
      // taken at once, and a crashed leader's lease is timed from its last renewal as seen here, with the next
      // attempt scheduled at its expiry — instead of after client-go's jittered polling (ADR 0010).
      const observeLease = (l: { spec?: V1LeaseSpec }): void => {
        const spec = l.spec ?? {};
        elector?.observe(leaseSpecToRecord(spec), rawRecord(spec));
      };
      void createInformer<{ spec?: V1LeaseSpec }>(
        kc,
        {
          group: 'coordination.k8s.io',
          version: 'v1',
          resource: 'leases',
          namespace: leaseNamespace,
          fieldSelector: `metadata.name=${env.leaderElectionId}`,
          signal: stop.signal,
        },
        { add: observeLease, update: observeLease },
        { log: log.child({ component: 'lease-watch' }) },
      ).catch((err) =>
        log.warn({ err: (err as Error).message }, 'Lease watch stopped; handover falls back to the retry period'),
      );
      run = elector.run(stop.signal).catch((err: Error & { code?: string }) => {
        if (err.code === 'ZW_ERR_LEADER_STOP_DEADLINE') {
          // A tap did not stop leader work in time: only exiting guarantees no leader-only write (no fencing).
          log.fatal({ err: err.message }, 'leader work did not stop within the renew deadline; exiting');
          process.exit(1);
        }
        log.error({ err: err.message }, 'leader election stopped');
      });
    },
    canActAsLeader,
    live: () => elector?.healthy(env.renewDeadlineMs) ?? { ok: true },
    async stopLeadership(reason: string) {
      log.info({ reason }, 'stopping leader election (releasing the Lease if held)');
      stop.abort(new Error(reason));
      await run;
    },
    async close() {
      stop.abort(new Error('closing'));
      await sink.close();
      await api.close();
    },
  };
}

/** Validate every Ingester object; webhook paths that collide go to the first by namespace/name. */
function evaluate(objects: IngesterObject[], validator: IngesterValidator): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const valid: IngesterConfig[] = [];
  for (const o of objects) {
    const key = `${o.metadata?.namespace}/${o.metadata?.name}`;
    const generation = Number(o.metadata?.generation ?? 1);
    const res = validator.validate(
      {
        apiVersion: o.apiVersion,
        kind: o.kind,
        metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, generation, uid: o.metadata?.uid },
        spec: o.spec,
      },
      o.metadata?.namespace,
    );
    if (res.ok) valid.push(res.ingester);
    else {
      const source = (o.spec as { source?: unknown } | undefined)?.source;
      out.set(key, {
        kind: 'rejected',
        generation,
        rejected: {
          key,
          source: typeof source === 'string' ? source : 'unknown',
          reason: res.reason,
          errors: res.errors,
        },
      });
    }
  }
  const { active, rejected } = resolveConflicts(valid);
  for (const ing of active) out.set(ing.key, { kind: 'active', ingester: ing });
  for (const r of rejected as Rejected[]) {
    const ing = valid.find((v) => v.key === r.key)!;
    out.set(r.key, { kind: 'rejected', generation: ing.generation, rejected: r });
  }
  return out;
}

/** Writes Ingester status through the status subresource: leader only, only when it changed. */
function createStatusWriter(deps: { api: KubeApi; log: Logger; canActAsLeader: () => boolean }) {
  const written = new Map<string, string>();
  return {
    sync(objects: Map<string, IngesterObject>, outcomes: Map<string, Outcome>) {
      if (!deps.canActAsLeader()) return;
      for (const [key, outcome] of outcomes) {
        const obj = objects.get(key);
        if (!obj?.metadata?.name) continue;
        const want = desiredStatus(outcome, obj.status, new Date());
        if (sameStatus(obj.status, want)) continue;
        const fingerprint = `${obj.metadata.resourceVersion}:${JSON.stringify(want.conditions.map((c) => [c.type, c.status, c.reason, c.message]))}`;
        if (written.get(key) === fingerprint) continue;
        written.set(key, fingerprint);
        deps.api
          .patch({
            ...INGESTER_GVR,
            namespace: obj.metadata.namespace!,
            name: obj.metadata.name,
            subresource: 'status',
            type: 'merge',
            body: { status: want },
          })
          .then(() => deps.log.debug({ ingester: key, ready: want.conditions[0]?.status }, 'Ingester status written'))
          .catch((err: Error & { code?: number }) => {
            written.delete(key);
            if (err.code !== 404)
              deps.log.warn(
                { ingester: key, err: err.message },
                'writing Ingester status failed; retried on the next change',
              );
          });
      }
    },
  };
}

export { OBSERVATION_GVR };
