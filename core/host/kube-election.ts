/**
 * Kubernetes mode's leader election: the Lease lock, client-go's elector (core/leader) with its metrics, and the
 * watch of the Lease that feeds the elector every record followers see — a release (graceful shutdown) is taken at
 * once, and a crashed leader's lease is timed from its last renewal as seen here, with the next attempt scheduled at
 * its expiry, instead of after client-go's jittered polling (ADR 0010).
 */
import type { KubeConfig, V1LeaseSpec } from '@kubernetes/client-node';
import type { LeaderTerm } from '../api/index.ts';
import type { HostEnv } from '../config/env.ts';
import { createInformer } from '../kube/informer.ts';
import {
  createLeaderElector,
  type LeaderElector,
  LeaderStopDeadlineError,
  LeaseLock,
  leaseRequestTimeoutMs,
  leaseSpecToRecord,
  rawRecord,
} from '../leader/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

export interface KubeElectionOptions {
  kc: KubeConfig;
  env: Readonly<HostEnv>;
  log: Logger;
  metrics: Metrics;
  leaseNamespace: string;
  identity: string;
  /** Ends the election (and releases the Lease if held) and the Lease watch. */
  signal: AbortSignal;
  onStartedLeading(term: LeaderTerm): Promise<void>;
  onStoppedLeading(): Promise<void>;
}

/** Starts electing; `run` settles when the election ended (the process exits if leader work outlived its deadline). */
export function startKubeElection(o: KubeElectionOptions): { elector: LeaderElector; run: Promise<void> } {
  const { kc, env, log, metrics } = o;
  const lock = new LeaseLock({
    kubeConfig: kc,
    namespace: o.leaseNamespace,
    name: env.leaderElectionId,
    identity: o.identity,
    requestTimeoutMs: leaseRequestTimeoutMs(env.renewDeadlineMs),
  });
  const lease = lock.describe();
  const elector = createLeaderElector({
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
      onStartedLeading: (info) => o.onStartedLeading(info),
      onStoppedLeading: () => o.onStoppedLeading(),
      onNewLeader: (holder) => {
        metrics.leaderInfo.reset();
        metrics.leaderInfo.set({ lease, holder }, 1);
        log.info({ leader: holder, lease }, `leader is now ${holder}`);
      },
    },
  });
  metrics.leader.set({ lease }, 0);
  const observeLease = (l: { spec?: V1LeaseSpec }): void => {
    const spec = l.spec ?? {};
    elector.observe(leaseSpecToRecord(spec), rawRecord(spec));
  };
  void createInformer<{ spec?: V1LeaseSpec }>(
    kc,
    {
      group: 'coordination.k8s.io',
      version: 'v1',
      resource: 'leases',
      namespace: o.leaseNamespace,
      fieldSelector: `metadata.name=${env.leaderElectionId}`,
      signal: o.signal,
    },
    { add: observeLease, update: observeLease },
    { log: log.child({ component: 'lease-watch' }) },
  ).catch((err) =>
    log.warn({ err: (err as Error).message }, 'Lease watch stopped; handover falls back to the retry period'),
  );
  const run = elector.run(o.signal).catch((err: Error) => {
    if (err instanceof LeaderStopDeadlineError) {
      // A tap did not stop leader work in time: only exiting guarantees no leader-only write (no fencing).
      log.fatal({ err: err.message }, 'leader work did not stop within the renew deadline; exiting');
      process.exit(1);
    }
    log.error({ err: err.message }, 'leader election stopped');
  });
  return { elector, run };
}
