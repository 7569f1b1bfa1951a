/**
 * What differs between the two run modes, behind one interface: where Observations go, where Ingesters come
 * from, how leadership is decided, and what Kubernetes access plugins get. host.ts wires the rest the same way.
 */
import type { LeaderTerm, PluginKube } from '../api/index.ts';
import type { Rejected } from '../config/ingester-set.ts';
import type { IngesterConfig, IngesterValidator } from '../config/validate.ts';
import type { KubeDestinations } from '../destinations/index.ts';
import type { ShardHub } from '../shard/hub.ts';
import type { ObservationSink } from '../sinks/types.ts';
import type { SecretCredentials } from './kube-credentials.ts';
import type { ObservationIndex } from './observation-index.ts';

export interface IngesterFeed {
  validator: IngesterValidator;
  /** Apply the complete current set (the host diffs it and calls onIngesterChanged). */
  apply(valid: IngesterConfig[], rejected: Rejected[]): Promise<void>;
}

export interface LeadershipCallbacks {
  /** A term began; resolves when leader work has been started. */
  started(term: LeaderTerm): Promise<void>;
  /** The term's signal has fired; resolves when leader work has stopped. */
  stopped(term: LeaderTerm): Promise<void>;
}

export interface ModeRuntime {
  readonly sink: ObservationSink;
  readonly kube: PluginKube | undefined;
  /** Webhook credentials from Secrets (kubernetes mode only). */
  readonly secretCredentials: SecretCredentials | undefined;
  /** Destinations from the cluster: resources, Secrets, delivery state (kubernetes mode only). */
  readonly destinations?: KubeDestinations;
  /** Sharded informer work (kubernetes mode with ZEN_SHARD_SLOTS > 1, ADR 0020); absent = informer work on the leader. */
  readonly shard?: ShardHub;
  /** For resolving informer findings (kubernetes mode only). */
  readonly index: ObservationIndex | undefined;
  /** Loads the Ingesters and keeps them current; resolves after the first complete set was applied. */
  startIngesters(feed: IngesterFeed): Promise<void>;
  /** Starts taking part in leadership (standalone: leads at once, for the whole life of the process). */
  startLeadership(callbacks: LeadershipCallbacks): void;
  /** For leader-only writes: may this replica act as leader right now (local clock)? */
  canActAsLeader(): boolean;
  /** Liveness (a wedged leader fails it so the kubelet restarts the pod). */
  live(): { ok: boolean; reason?: string };
  /** Ends the current term (stops leader work, then releases the Lease) and stops watching. */
  stopLeadership(reason: string): Promise<void>;
  close(): Promise<void>;
}
