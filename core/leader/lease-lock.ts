/**
 * LeaderLock on a coordination.k8s.io/v1 Lease (client-go `resourcelock/leaselock.go`).
 *
 * The lock has its own HTTP connection (a KubeConnection: HTTP/2 or a kept-alive HTTP/1.1 agent, kept for the life
 * of the lock and replaced after a network error or timeout) and its own user agent, so renewals never queue behind
 * Observation writes or informer traffic (DESIGN §7). Every request is bounded by `requestTimeoutMs`. Plain JSON
 * requests, not client-node's generated CoordinationV1Api (issue #18: a replica need not load client-node).
 */
import type { KubeConfig, V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { ZwError } from '../api/errors.ts';
import { errorText, KubeConnection, statusOf } from '../kube/request.ts';
import { type LeaderLock, LeaderLockError, type LeaderRecord } from './lock.ts';

export const LEADER_ELECTION_USER_AGENT = 'zen-watcher/leader-election';

/** client-go's rule for the lock's client: max(1 s, renewDeadline / 2). */
export function leaseRequestTimeoutMs(renewDeadlineMs: number): number {
  return Math.max(1000, Math.floor(renewDeadlineMs / 2));
}

export interface LeaseLockOptions {
  /** The lock opens a connection of its own on it. */
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  /** Per request; default leaseRequestTimeoutMs(10 000) = 5 000. */
  requestTimeoutMs?: number;
  /** Default `zen-watcher/leader-election`. */
  userAgent?: string;
}

export class LeaseLock implements LeaderLock {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly requestTimeoutMs: number;
  readonly #conn: KubeConnection;
  readonly #path: string;
  /** The Lease as last read or written: its resourceVersion guards update(). */
  #lease: V1Lease | undefined;

  constructor(opts: LeaseLockOptions) {
    if (!opts.identity) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'LeaseLock: identity is empty');
    if (!opts.namespace) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'LeaseLock: namespace is empty');
    if (!opts.name) throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'LeaseLock: name is empty');
    this.identity = opts.identity;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? leaseRequestTimeoutMs(10_000);
    if (!opts.kubeConfig.getCurrentCluster())
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'LeaseLock: the kubeconfig has no current cluster');
    this.#conn = new KubeConnection(opts.kubeConfig, {
      requestTimeoutMs: this.requestTimeoutMs,
      userAgent: opts.userAgent ?? LEADER_ELECTION_USER_AGENT,
    });
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  async get(signal: AbortSignal): Promise<{ record: LeaderRecord; raw: string } | undefined> {
    let lease: V1Lease;
    try {
      lease = await this.#conn.json<V1Lease>({ path: `${this.#path}/${encodeURIComponent(this.name)}`, signal });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.#failure('get', err);
    }
    this.#lease = lease;
    const spec = lease.spec ?? {};
    return { record: leaseSpecToRecord(spec), raw: rawRecord(spec) };
  }

  async create(record: LeaderRecord, signal: AbortSignal): Promise<void> {
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: recordToLeaseSpec(record),
    };
    try {
      this.#lease = await this.#conn.json<V1Lease>({ method: 'POST', path: this.#path, body, signal });
    } catch (err) {
      throw this.#failure('create', err);
    }
  }

  async update(record: LeaderRecord, signal: AbortSignal): Promise<void> {
    const current = this.#lease;
    if (!current) throw new LeaderLockError(`LeaseUpdate: ${this.describe()} not read yet; call get or create first`);
    // metadata carries resourceVersion: the API server refuses the write (409) if anyone wrote since.
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: current.metadata,
      spec: recordToLeaseSpec(record),
    };
    try {
      this.#lease = await this.#conn.json<V1Lease>({
        method: 'PUT',
        path: `${this.#path}/${encodeURIComponent(this.name)}`,
        body,
        signal,
      });
    } catch (err) {
      throw this.#failure('update', err);
    }
  }

  /** Closes the lock's connection. The lock stays usable: the next request opens a new one. */
  async close(): Promise<void> {
    await this.#conn.close();
  }

  #failure(op: 'get' | 'create' | 'update', err: unknown): LeaderLockError {
    // Timeout, reset, refused (no status): KubeConnection has dropped the connection already, so the next request
    // starts on a new one.
    const status = statusOf(err);
    const what = status === undefined ? errorText(err) : `HTTP ${status}`;
    return new LeaderLockError(
      `Lease${op[0]!.toUpperCase()}${op.slice(1)}: ${op} of ${this.describe()} failed (${what})`,
      {
        ...(status !== undefined ? { status } : {}),
        cause: err,
      },
    );
  }
}

/** Lease spec → record (pure). MicroTimes arrive as RFC 3339 strings (or Dates); absent fields → zero values. */
export function leaseSpecToRecord(spec: V1LeaseSpec): LeaderRecord {
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: parseMicroTime(spec.acquireTime),
    renewTime: parseMicroTime(spec.renewTime),
    leaderTransitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * Record → Lease spec (pure). Times are written with six fractional digits as the API server requires for
 * MicroTime ("2026-01-02T03:04:05.678000Z"), like client-node's V1MicroTime. Like client-go, holderIdentity is always
 * written, '' when released.
 */
export function recordToLeaseSpec(r: LeaderRecord): V1LeaseSpec {
  const spec: V1LeaseSpec = {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    leaseTransitions: r.leaderTransitions,
  };
  if (r.acquireTime !== undefined) spec.acquireTime = microTime(r.acquireTime);
  if (r.renewTime !== undefined) spec.renewTime = microTime(r.renewTime);
  return spec;
}

/**
 * The stored record, for change detection. Times are compared as parsed instants, not text: the same Lease reads
 * as Date objects through the typed client (get) and as RFC 3339 strings through a watch, and both must give the
 * same key, or a watch-fed observation would look like a new write at the next poll and restart the expiry clock.
 */
export function rawRecord(spec: V1LeaseSpec): string {
  return JSON.stringify([
    spec.holderIdentity ?? null,
    spec.leaseDurationSeconds ?? null,
    microTimeKey(spec.acquireTime),
    microTimeKey(spec.renewTime),
    spec.leaseTransitions ?? null,
  ]);
}

/** Microsecond precision when the text carries it (client-go writes µs); Date objects carry ms. */
function microTimeKey(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return String(v.getTime() * 1000);
  const text = String(v);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return text;
  const micros = /\.\d{3}(\d{3})/.exec(text)?.[1] ?? '000';
  return String(ms * 1000 + Number(micros));
}

function parseMicroTime(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isFinite(ms) ? ms : undefined;
}

/** RFC 3339 with microseconds, as MicroTime is written (typed as V1LeaseSpec's Date: it goes on the wire as JSON). */
function microTime(ms: number): Date {
  return `${new Date(ms).toISOString().slice(0, -1)}000Z` as unknown as Date;
}
