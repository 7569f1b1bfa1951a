/**
 * The Kubernetes sink: creates Observation resources with their deterministic names. 409 AlreadyExists is a
 * duplicate, not an error. Writes are paced adaptively (write-pacer.ts: a concurrency window that follows the API
 * server's priority-and-fairness 429s by AIMD, under the ZEN_KUBE_WRITE_QPS / _BURST rate ceiling) and retried with
 * backoff on 429, 5xx and connection errors, honouring Retry-After. Writes run on their own connection (HTTP/2,
 * core/kube/transport.ts), and the created object the API server answers with is read but not parsed.
 *
 * Leader-only writes (informer sources) pass `leaderOnly`: before every attempt the sink asks `canActAsLeader()`
 * (the last successful Lease renewal is younger than the renew deadline, on the local clock), so a leader that was
 * paused and resumes with stale leadership writes nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Observation } from '../api/index.ts';
import { createKubeApi, type KubeApi } from '../kube/api.ts';
import { ApiException, KubeConnection, resourcePath } from '../kube/request.ts';
import {
  CONTENT_AT_ANNOTATION,
  contentToApply,
  MUTABLE_SPEC_FIELDS,
  mergeOccurrences,
  type OccurrenceDelta,
  type ReportedContent,
} from '../pipeline/occurrences.ts';
import { type ObservationSink, SinkWriteError, type WriteOptions } from './types.ts';
import { AdaptiveWritePacer } from './write-pacer.ts';

export const OBSERVATION_GVR = Object.freeze({ group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' });
const FIRST_SEEN = 'zen.kube-zen.io/first-seen';
const CONTENT_HASH = 'zen.kube-zen.io/content-hash';
/** 429 answers one write retries (each after its Retry-After) before it counts as lost; not counted as attempts. */
const MAX_THROTTLED = 30;

export interface KubeSinkOptions {
  kubeConfig: KubeConfig;
  /** The pacing ceiling: the most writes per second (the rate adapts below it on 429s). */
  qps: number;
  burst: number;
  /** Attempts per Observation before it counts as lost (default 8, about a minute of backoff). */
  maxAttempts?: number;
  canActAsLeader?: () => boolean;
  now?: () => number;
  /** Called on every conflict (409) of a conditional status write, for metrics. */
  onConflict?: () => void;
}

export class KubeObservationSink implements ObservationSink {
  readonly kind = 'kubernetes' as const;
  /** Creates and previous-bucket reads: a connection of their own (DESIGN §7). */
  readonly #conn: KubeConnection;
  readonly pacer: AdaptiveWritePacer;
  readonly #maxAttempts: number;
  readonly #canAct: () => boolean;
  readonly #now: () => number;
  readonly #api: KubeApi;
  readonly #onConflict: () => void;
  #open = true;
  /** When a write last failed without any HTTP answer (the API server unreachable); 0 = not since the last success. */
  #unreachableAt = 0;

  constructor(o: KubeSinkOptions) {
    this.#conn = new KubeConnection(o.kubeConfig, { userAgent: 'zen-watcher/observation-writer' });
    this.#now = o.now ?? Date.now;
    this.pacer = new AdaptiveWritePacer({ ceilingQps: o.qps, burst: o.burst, now: this.#now });
    this.#maxAttempts = o.maxAttempts ?? 8;
    this.#canAct = o.canActAsLeader ?? (() => true);
    this.#api = createKubeApi(o.kubeConfig);
    this.#onConflict = o.onConflict ?? (() => {});
  }

  async write(
    obs: Observation,
    previous?: { name: string; notBefore: number },
    opts: WriteOptions = {},
  ): Promise<'created' | 'duplicate'> {
    if (previous && (await this.#recentlySeen(obs.namespace, previous))) {
      opts.onStored?.({ namespace: obs.namespace, name: previous.name });
      return 'duplicate';
    }
    const body = {
      apiVersion: `${OBSERVATION_GVR.group}/${OBSERVATION_GVR.version}`,
      kind: 'Observation',
      metadata: { name: obs.name, namespace: obs.namespace, labels: obs.labels, annotations: obs.annotations },
      spec: obs.spec,
    };
    let namespace = obs.namespace;
    let throttled = 0;
    for (let attempt = 1; ; attempt++) {
      if (!this.#open) throw new SinkWriteError('sink closed', { retryable: false, reason: 'shutdown' });
      const ticket = await this.pacer.acquire();
      // Checked after the pacing wait, right before the send: a pause inside that wait must not resume
      // straight into a leader-only write.
      if (opts.leaderOnly && !this.#canAct()) {
        this.pacer.done(ticket, 'failed');
        throw new SinkWriteError(`not leader: ${obs.name} is left to the current leader's relist`, {
          retryable: false,
          reason: 'not_leader',
        });
      }
      try {
        // The answer (the stored object) is not needed: read, not parsed.
        await this.#conn.call({
          method: 'POST',
          path: observationsPath(namespace),
          body: { ...body, metadata: { ...body.metadata, namespace } },
        });
        this.pacer.done(ticket, 'admitted');
        this.#unreachableAt = 0;
        opts.onStored?.({ namespace, name: obs.name });
        return 'created';
      } catch (err) {
        const code = err instanceof ApiException ? err.code : undefined;
        this.pacer.done(ticket, code === 429 ? 'throttled' : code === undefined ? 'failed' : 'admitted');
        if (code === 409) {
          opts.onStored?.({ namespace, name: obs.name });
          return 'duplicate';
        }
        if (code === undefined) {
          // The connection itself recovers (a failed or timed-out one is replaced by the next request).
          this.#unreachableAt = this.#now();
        } else this.#unreachableAt = 0;
        const refusal = code === undefined ? undefined : classifyRefusal(code, err);
        // The resource's namespace may be gone, or out of this install's RBAC: fall back to the Ingester's. Not for
        // a quota or an admission denial: those are the cluster's deliberate answer about this namespace.
        if (
          (code === 404 || code === 403) &&
          !refusal &&
          opts.fallbackNamespace &&
          namespace !== opts.fallbackNamespace
        ) {
          namespace = opts.fallbackNamespace;
          continue;
        }
        // A 429 is the API server's flow control asking to wait (the pacing has narrowed already): it has a budget
        // of its own, so a burst that meets a busy priority level is slowed down rather than failed.
        if (code === 429 && ++throttled <= MAX_THROTTLED) attempt--;
        const retryable = !refusal && (code === undefined || code === 429 || code >= 500);
        if (!retryable || attempt >= this.#maxAttempts) {
          // Not stored: the pipeline answers the webhook 503 with this Retry-After (never 2xx).
          throw new SinkWriteError(`create ${namespace}/${obs.name}: ${describe(err)}`, {
            retryable: false,
            reason:
              refusal ??
              (code === undefined
                ? 'unreachable'
                : code === 403
                  ? 'forbidden'
                  : code === 422 || code === 400
                    ? 'rejected'
                    : `http_${code}`),
            cause: err,
            retryAfterSeconds: retryAfterSeconds(err) ?? 10,
          });
        }
        opts.onRetry?.(code === undefined ? 'unreachable' : `http_${code}`);
        await sleep(backoffMs(attempt, err));
      }
    }
  }

  /**
   * Adds repeats to status.count/firstSeen/lastSeen, moves the phase when the source resolved the finding or
   * reported it again after that, and updates what the source reports in place (webhook sources). Read the
   * Observation, then write carrying the resourceVersion read, which the API server refuses (409) if another
   * replica wrote in between; then read again and retry. So concurrent replicas never lose each other's increments,
   * and the later report (by event time) wins whatever the order the replicas write in.
   */
  async addOccurrences(d: OccurrenceDelta, signal?: AbortSignal): Promise<'applied' | 'gone'> {
    for (let attempt = 1; ; attempt++) {
      if (!this.#open) throw new SinkWriteError('sink closed', { retryable: false, reason: 'shutdown' });
      let cur: StoredStatus;
      try {
        cur = await this.#paced(() =>
          this.#api.get<StoredStatus>({ ...OBSERVATION_GVR, namespace: d.namespace, name: d.name, signal }),
        );
      } catch (err) {
        if ((err as { code?: number }).code === 404) return 'gone';
        throw err;
      }
      try {
        const content = contentToApply(cur, d.content);
        if (content) {
          // The spec is written by PUT of the whole object (the status subresource ignores spec), conditional on
          // the resourceVersion read; its answer carries the resourceVersion the status patch is conditional on.
          cur = await this.#paced(() =>
            this.#api.replace<StoredStatus>({
              ...OBSERVATION_GVR,
              namespace: d.namespace,
              name: d.name,
              body: withContent(cur, content),
              signal,
            }),
          );
        }
        const status = mergeOccurrences(cur, d);
        if (d.count === 0 && status.phase === undefined) return 'applied';
        await this.#paced(() =>
          this.#api.patch({
            ...OBSERVATION_GVR,
            namespace: d.namespace,
            name: d.name,
            subresource: 'status',
            type: 'merge',
            body: { metadata: { resourceVersion: cur.metadata?.resourceVersion }, status },
            signal,
          }),
        );
        return 'applied';
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404) return 'gone';
        if (code !== 409 || attempt >= 20) throw err;
        this.#onConflict();
      }
    }
  }

  /** One request through the pacer. */
  async #paced<T>(send: () => Promise<T>): Promise<T> {
    const ticket = await this.pacer.acquire();
    try {
      const r = await send();
      this.pacer.done(ticket, 'admitted');
      return r;
    } catch (err) {
      const code = (err as { code?: number }).code;
      this.pacer.done(ticket, code === 429 ? 'throttled' : code === undefined ? 'failed' : 'admitted');
      throw err;
    }
  }

  /** Previous dedup bucket: the same finding recorded less than a window ago is a duplicate. */
  async #recentlySeen(namespace: string, previous: { name: string; notBefore: number }): Promise<boolean> {
    const ticket = await this.pacer.acquire();
    try {
      const o = (await this.#conn.json({ path: observationsPath(namespace, previous.name) })) as {
        metadata?: { annotations?: Record<string, string>; creationTimestamp?: string };
        spec?: { detectedAt?: string };
      };
      this.pacer.done(ticket, 'admitted');
      // Windows run on event time (the pipeline's windowTime): compare with the previous bucket's detectedAt.
      const seen = Date.parse(
        o.spec?.detectedAt ?? o.metadata?.annotations?.[FIRST_SEEN] ?? o.metadata?.creationTimestamp ?? '',
      );
      return !Number.isNaN(seen) && seen > previous.notBefore;
    } catch (err) {
      const code = err instanceof ApiException ? err.code : undefined;
      this.pacer.done(ticket, code === 429 ? 'throttled' : code === undefined ? 'failed' : 'admitted');
      return false; // absent, or unreadable: the create decides
    }
  }

  /**
   * Not ready for 10 s after a write found the API server unreachable, so load balancers send webhooks to replicas
   * that can write. It expires on its own: a replica that gets no traffic must not stay unready for good.
   */
  ready(): boolean {
    return this.#open && (this.#unreachableAt === 0 || this.#now() - this.#unreachableAt > 10_000);
  }

  async close(): Promise<void> {
    this.#open = false;
    await this.#conn.close();
    await this.#api.close();
  }
}

function observationsPath(namespace: string, name?: string): string {
  return resourcePath({
    group: OBSERVATION_GVR.group,
    version: OBSERVATION_GVR.version,
    resource: OBSERVATION_GVR.plural,
    namespace,
    name,
  });
}

/**
 * A write the cluster refused on purpose or for lack of room, by the API server's message: a ResourceQuota
 * (`exceeded quota`, 403), an admission denial (a ValidatingAdmissionPolicy or admission webhook: `denied`), or
 * etcd out of space (`database space exceeded`). Undefined for other errors.
 */
export function classifyRefusal(code: number, err: unknown): string | undefined {
  const text = describe(err);
  if (code === 403 && /exceeded quota/i.test(text)) return 'quota_exceeded';
  if (/database space exceeded|no space/i.test(text)) return 'storage_full';
  if ((code === 400 || code === 403 || code === 422) && /\bdenied\b/i.test(text)) return 'admission_denied';
  return undefined;
}

function retryAfterSeconds(err: unknown): number | undefined {
  const v = err instanceof ApiException ? Number(err.headers?.['retry-after']) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? Math.min(v, 300) : undefined;
}

interface StoredStatus {
  metadata?: { resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { detectedAt?: string } & Record<string, unknown>;
  status?: { count?: number; firstSeen?: string; lastSeen?: string; phase?: string; resolvedAt?: string };
}

/** The Observation with the reported content in place (spec fields, severity/category labels, content hash/time). */
function withContent(cur: StoredStatus, c: ReportedContent): StoredStatus {
  const spec: Record<string, unknown> = { ...cur.spec };
  for (const k of MUTABLE_SPEC_FIELDS) {
    if (c[k] === undefined) delete spec[k];
    else spec[k] = c[k];
  }
  return {
    ...cur,
    metadata: {
      ...cur.metadata,
      labels: { ...cur.metadata?.labels, severity: c.severity, category: c.category },
      annotations: {
        ...cur.metadata?.annotations,
        [CONTENT_HASH]: c.hash,
        [CONTENT_AT_ANNOTATION]: new Date(c.at).toISOString(),
      },
    },
    spec,
  };
}

export function backoffMs(attempt: number, err: unknown): number {
  const retryAfter = err instanceof ApiException ? Number(err.headers?.['retry-after']) : Number.NaN;
  if (Number.isFinite(retryAfter) && retryAfter > 0) return Math.min(retryAfter * 1000, 30_000);
  const base = Math.min(200 * 2 ** (attempt - 1), 10_000);
  return base / 2 + Math.random() * (base / 2);
}

function describe(err: unknown): string {
  if (err instanceof ApiException) {
    let body = err.body as { message?: string } | string | undefined;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body) as { message?: string };
      } catch {}
    }
    const message =
      typeof body === 'object' && body ? body.message : typeof body === 'string' ? body.slice(0, 300) : undefined;
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}
