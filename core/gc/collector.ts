/**
 * Leader-only TTL garbage collection of Observations (DESIGN §7). An Observation expires when
 * `creationTimestamp + (spec.ttlSecondsAfterCreation ?? defaultTtlSeconds) < now`. Lists in pages and deletes
 * each expired one with uid and resourceVersion preconditions (fencing, ADR 0022), rate limited, checking `canAct()` immediately before every delete:
 * the moment leadership is lost (or the signal aborts) no further delete is sent.
 */
import { defaultClock, errorText, statusOf } from '../kube/index.ts';
import { RateLimiter } from './rate-limiter.ts';

export const OBSERVATIONS = Object.freeze({ group: 'zen.kube-zen.io', version: 'v1alpha1', plural: 'observations' });

export interface GcObject {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
  };
  spec?: { ttlSecondsAfterCreation?: unknown };
}

/** The two calls GC needs; `KubeApi` from core/kube satisfies it. */
export interface GcApi {
  list(p: {
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    limit?: number;
    continue?: string;
    signal?: AbortSignal;
  }): Promise<{ items: GcObject[]; metadata: { continue?: string } }>;
  delete(p: {
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    name: string;
    preconditions?: { uid?: string; resourceVersion?: string };
    signal?: AbortSignal;
  }): Promise<void>;
}

export interface GcLog {
  debug(o: object, m: string): void;
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export interface GcMetrics {
  /** One finished run, whatever its outcome; `seconds` is its duration. */
  run(result: GcResult, seconds: number): void;
}

export interface GcOptions {
  api: GcApi;
  /** Namespaces to collect in, or 'all' for one cluster-wide list. */
  namespaces: readonly string[] | 'all';
  /** For Observations without spec.ttlSecondsAfterCreation. */
  defaultTtlSeconds: number;
  /** Items per list page. Default 500. */
  pageSize?: number;
  /** Deletes per second (token bucket, burst = max(1, deleteQps)). Default 20. */
  deleteQps?: number;
  /** The elector's canActAsLeader(): checked before every delete. */
  canAct: () => boolean;
  signal: AbortSignal;
  /** Wall-clock milliseconds (creationTimestamp is the server's wall clock). Default Date.now. */
  now?: () => number;
  log: GcLog;
  metrics?: GcMetrics;
  /** Stop the run after this many delete failures in a row (API down). Default 10. */
  maxConsecutiveErrors?: number;
}

export type GcStop = 'done' | 'leadership' | 'aborted' | 'errors' | 'list-failed';

export interface GcResult {
  /** Observations listed. */
  scanned: number;
  /** Of those, expired. */
  expired: number;
  /** Deleted by this run. */
  deleted: number;
  /** Expired but already gone when we deleted (404). */
  alreadyGone: number;
  /**
   * Expired but not deleted: the Observation changed since it was listed, or the name now belongs to a new object
   * (uid + resourceVersion preconditions, 409), or it has no usable timestamp.
   */
  skipped: number;
  /** Of the skipped: refused by a precondition (409). */
  conflicts: number;
  /** Failed list or delete requests. */
  errors: number;
  stopped: GcStop;
}

/** Pure: when `obj` expires (epoch ms), or undefined if it has no usable creationTimestamp. */
export function expiresAt(obj: GcObject, defaultTtlSeconds: number): number | undefined {
  const created = obj.metadata?.creationTimestamp;
  const t = created instanceof Date ? created.getTime() : Date.parse(String(created ?? ''));
  if (!Number.isFinite(t)) return undefined;
  const ttl = obj.spec?.ttlSecondsAfterCreation;
  const seconds = typeof ttl === 'number' && Number.isFinite(ttl) && ttl >= 0 ? ttl : defaultTtlSeconds;
  return t + seconds * 1000;
}

/** One pass over the namespaces. Never throws for API errors: they are counted and logged. */
export async function runGc(o: GcOptions): Promise<GcResult> {
  const started = performance.now();
  const now = o.now ?? Date.now;
  const pageSize = o.pageSize ?? 500;
  const maxErrors = o.maxConsecutiveErrors ?? 10;
  const limiter = new RateLimiter(o.deleteQps ?? 20);
  const r: GcResult = {
    scanned: 0,
    expired: 0,
    deleted: 0,
    alreadyGone: 0,
    skipped: 0,
    conflicts: 0,
    errors: 0,
    stopped: 'done',
  };
  let consecutiveErrors = 0;

  /** Returns why to stop, or undefined to go on. */
  const collect = async (obj: GcObject): Promise<GcStop | undefined> => {
    r.scanned++;
    const at = expiresAt(obj, o.defaultTtlSeconds);
    const { name, namespace, uid, resourceVersion } = obj.metadata ?? {};
    if (at === undefined || !name || !uid) {
      r.skipped++;
      o.log.debug({ name, namespace }, 'gc: Observation without name, uid or creationTimestamp; skipped');
      return undefined;
    }
    if (at >= now()) return undefined;
    r.expired++;
    await limiter.take(o.signal);
    // Checked last, right before the request: nothing may be deleted once leadership is lost.
    if (o.signal.aborted) return 'aborted';
    if (!o.canAct()) return 'leadership';
    try {
      await o.api.delete({
        ...OBSERVATIONS,
        ...(namespace ? { namespace } : {}),
        name,
        // Fencing (ADR 0022): the delete lands only on the object exactly as listed in this run, i.e. read while
        // this replica could act; anything written to it since (by a newer leader too) makes the API server refuse.
        preconditions: { uid, ...(resourceVersion ? { resourceVersion } : {}) },
        signal: o.signal,
      });
      r.deleted++;
      consecutiveErrors = 0;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) {
        r.alreadyGone++;
      } else if (status === 409) {
        r.skipped++;
        r.conflicts++;
        o.log.info(
          { name, namespace, uid, resourceVersion },
          'gc: the Observation changed since it was listed, or its name belongs to a newer one; kept (the next run decides again)',
        );
      } else {
        if (o.signal.aborted) return 'aborted';
        r.errors++;
        o.log.warn({ name, namespace, status, err: errorText(err) }, 'gc: delete failed');
        if (++consecutiveErrors >= maxErrors) return 'errors';
      }
    }
    return undefined;
  };

  const scopes: (string | undefined)[] = o.namespaces === 'all' ? [undefined] : [...o.namespaces];
  outer: for (const namespace of scopes) {
    let cont: string | undefined;
    do {
      if (o.signal.aborted) {
        r.stopped = 'aborted';
        break outer;
      }
      let page: Awaited<ReturnType<GcApi['list']>>;
      try {
        page = await o.api.list({
          ...OBSERVATIONS,
          ...(namespace ? { namespace } : {}),
          limit: pageSize,
          ...(cont ? { continue: cont } : {}),
          signal: o.signal,
        });
      } catch (err) {
        if (o.signal.aborted) {
          r.stopped = 'aborted';
          break outer;
        }
        r.errors++;
        r.stopped = 'list-failed';
        o.log.warn({ namespace, status: statusOf(err), err: errorText(err) }, 'gc: list failed; next run retries');
        break outer;
      }
      for (const obj of page.items ?? []) {
        const stop = await collect(obj);
        if (stop) {
          r.stopped = stop;
          break outer;
        }
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  const seconds = (performance.now() - started) / 1000;
  o.metrics?.run(r, seconds);
  if (r.stopped === 'errors' || r.stopped === 'list-failed') o.log.warn({ ...r, seconds }, 'gc: run stopped early');
  else if (r.stopped === 'leadership') o.log.info({ ...r, seconds }, 'gc: run stopped: not leader any more');
  else if (r.deleted > 0) o.log.info({ ...r, seconds }, 'gc: run finished');
  else o.log.debug({ ...r, seconds }, 'gc: run finished');
  return r;
}

export interface GcLoopOptions extends GcOptions {
  /** Time between the end of one run and the start of the next. */
  intervalMs: number;
  /** For tests: waits `ms` or until the signal aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/**
 * Runs GC now and then every `intervalMs` until `signal` aborts (pass the leader term's signal); skips a run while
 * `canAct()` is false. Resolves when stopped.
 */
export async function startGcLoop(o: GcLoopOptions): Promise<void> {
  const sleep = o.sleep ?? defaultClock.sleep;
  while (!o.signal.aborted) {
    if (o.canAct()) {
      try {
        await runGc(o);
      } catch (err) {
        o.log.warn({ err: errorText(err) }, 'gc: run failed');
      }
    }
    await sleep(o.intervalMs, o.signal);
  }
}
