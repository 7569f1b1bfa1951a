/**
 * The contract between the resolver and where Observations live (ADR 0009, 0011, 0022): what the resolver reads of
 * an Observation (`IndexedObservation`), the reads and fenced status writes it needs (`ObservationIndex`:
 * core/host/kube-index.ts in Kubernetes mode, memory in the test kit), and the scope label that files a finding
 * under its scope (one report's findings), so a new leader or shard owner finds a scope's Observations again
 * without any state of its own.
 */
import { createHash } from 'node:crypto';
import type { Observation } from '../api/index.ts';
import type { IngesterConfig } from '../config/validate.ts';

export const SCOPE_LABEL = 'zen.kube-zen.io/scope';

export interface IndexedObservation {
  name: string;
  namespace: string;
  phase: 'Active' | 'Resolved';
  scope: string;
  /** The `zen.kube-zen.io/content-hash` annotation: what the source reported (mutable fields), hashed. */
  contentHash?: string;
  /**
   * `spec.resource.namespace`, '' when the finding is about a cluster-scoped resource; undefined when not known
   * (an entry from our own write not yet seen by the watch). Sharded, it names the finding's unit (ADR 0020).
   */
  resourceNamespace?: string;
  /** As read under the current guard (term or shard slot): the precondition of every status write (fencing). */
  resourceVersion?: string;
  /** `status.missingSince` (ms): since when the finding is no longer reported, persisted. */
  missingSince?: number;
}

/** Where the resolver reads and marks Observations (Kubernetes in production, memory in the test kit). */
export interface ObservationIndex {
  /** Observations of this Ingester, optionally of one scope (label-selected). */
  list(ingester: IngesterConfig, scope?: string, signal?: AbortSignal): Promise<IndexedObservation[]>;
  /**
   * Resolved (also removes missingSince), or Active again. Fenced: conditional on `o.resourceVersion`; a resolution
   * is not written if the Observation's missingSince is no longer `o.missingSince` (the finding was seen again).
   * 'written' when the phase was changed by this call.
   */
  setPhase(
    o: IndexedObservation,
    phase: 'Active' | 'Resolved',
    reason: string,
    signal?: AbortSignal,
  ): Promise<'written' | 'unchanged' | 'fenced' | 'gone'>;
  /**
   * Persists (`since`, ms) or removes (undefined) the missing-since time, fenced like setPhase. Returns the
   * Observation as it is afterwards (a missingSince persisted earlier by another leader wins), or undefined when it
   * is gone or this replica may no longer act.
   */
  setMissing?(
    o: IndexedObservation,
    since: number | undefined,
    signal?: AbortSignal,
  ): Promise<IndexedObservation | undefined>;
  /**
   * Observations of this Ingester and scope that the pipeline just wrote (or found existing). An index that reads
   * from a cache records them, so the next list() sees them even before its watch does (read-your-writes).
   */
  noteStored?(ingester: IngesterConfig, scope: string, stored: readonly { namespace: string; name: string }[]): void;
  /**
   * Updates in place (leader only): the finding's identity is unchanged but what the source reports about it
   * (severity, title, message, details, category, eventType) is not. Idempotent: 'unchanged' when the stored
   * content hash already matches.
   */
  updateContent?(
    o: IndexedObservation,
    obs: Observation,
    signal?: AbortSignal,
  ): Promise<'updated' | 'unchanged' | 'gone'>;
}

/** The value of the scope label for `scope` (label values are short: a hash). */
export function scopeLabel(scope: string): string {
  return createHash('sha256').update(scope).digest('hex').slice(0, 16);
}
