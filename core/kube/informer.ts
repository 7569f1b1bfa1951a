/**
 * The informer behind `PluginKube.informer` (core/api/plugin.ts): list, then watch from the list's
 * resourceVersion, kept alive until `options.signal` aborts. Our own loop, not client-node's ListWatch (see
 * README: ListWatch stops for good on a watch error, has no stall detection, no bookmarks, no `synced`, and calls
 * handlers without awaiting them).
 *
 * 1. (Re)list in pages. Diff against what we hold: `add` new objects, `update` changed ones (resourceVersion
 *    differs), `delete` vanished ones; then `synced(all)`. On a relist, the number of differences is what the
 *    watch missed (`metrics.relistDiff`).
 * 2. Watch from the list's resourceVersion with bookmarks; each event goes through the store to the callbacks.
 * 3. When the watch ends: the server closed it → watch again from the last resourceVersion (no relist);
 *    410 Gone, a stall (no event and no bookmark for `stallTimeoutMs`) or any error → relist. Every restart is
 *    counted (`metrics.restarts`) and, unless the watch had been healthy for `healthyAfterMs`, delayed by
 *    exponential backoff with jitter.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ZwError } from '../api/errors.ts';
import type { InformerEvents, InformerOptions } from '../api/plugin.ts';
import { Backoff, type BackoffOptions } from './backoff.ts';
import { errorText, KubeConnection, resourcePath, statusOf } from './request.ts';
import { type Delta, keyOf, metaOf, ObjectStore } from './store.ts';
import { type WatchEnd, watchOnce } from './watch.ts';

/** Structured logger (pino's `(object, message)` order). */
export interface KubeLog {
  debug(o: object, m: string): void;
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface KubeClock {
  now(): number;
  /** Resolves after `ms`, or early (never rejects) once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type RestartReason = 'closed' | 'gone' | 'stalled' | 'error';

/** What the informer reports; the host adapts it to Prometheus. `gvr` is `group/version/resource` (core = `core`). */
export interface InformerMetrics {
  /** The watch ended and is being restarted (`closed`: by the server; the others lead to a relist). */
  restarts(gvr: string, reason?: RestartReason): void;
  /** On every relist after the first: how many adds/updates/deletes the watch had not delivered. */
  relistDiff(gvr: string, n: number): void;
  /** A user callback threw or rejected. */
  callbackError?(gvr: string, event: 'add' | 'update' | 'delete' | 'synced'): void;
  /** `deps.transform` threw on an object; the object was dropped (neither stored nor delivered). */
  transformError?(gvr: string): void;
}

export const noInformerMetrics: InformerMetrics = Object.freeze({ restarts() {}, relistDiff() {} });

export interface InformerTiming {
  /** Restart when nothing (no event, no bookmark) arrives for this long. Default 300 000 (5 min). */
  stallTimeoutMs?: number;
  /** Restart delays. Default 500 ms doubling to 30 s, ±20 % jitter. */
  backoff?: BackoffOptions;
  /** A watch open this long counts as healthy: the backoff resets and a server close re-watches at once. Default 10 000. */
  healthyAfterMs?: number;
  /** Items per list page. Default 500. */
  pageSize?: number;
  /**
   * Aim for list pages of about this many bytes: after each page, the next page's limit becomes
   * `pageBytes / (bytes per item so far)`, between 10 and `pageSize`. A page is held whole while it is parsed —
   * the text, then the parsed objects, several times its size — so for large objects (100 KB reports) this, not
   * the item count, bounds the memory a list needs. Default: no byte budget (pages of `pageSize`).
   */
  pageBytes?: number;
  /** Per list request. Default 60 000. */
  requestTimeoutMs?: number;
  /** The server ends each watch after a random time in [t, 2t). Default 300 (client-go's 5 min). */
  watchTimeoutSeconds?: number;
}

export interface InformerDeps {
  log: KubeLog;
  /**
   * Applied to every object as it arrives (each list page, each watch event), before the store keeps it and before
   * any callback sees it (client-go's SetTransform). Must keep `metadata.name`, `namespace`, `uid` and
   * `resourceVersion`. For caches of many objects: keep only what is read, so memory holds no full objects.
   * If it throws, the object is dropped as if it did not exist (counted in `metrics.transformError`, logged).
   */
  transform?: (obj: unknown) => unknown;
  metrics?: InformerMetrics;
  /**
   * Taken around every (re)list and released before the watch starts: bounds how many lists of a set of informers
   * hold pages in memory at once (a sharded replica's per-namespace informers, core/shard/namespaces.ts).
   */
  listGate?: (signal: AbortSignal) => Promise<() => void>;
  /** A list failed (before the retry): e.g. to give up on 403 Forbidden by aborting the signal. */
  onListError?: (err: unknown) => void;
  /** The Accept headers of lists and of watches (default `application/json`), e.g. for metadata only. */
  accept?: { list: string; watch: string };
  clock?: KubeClock;
  timing?: InformerTiming;
  random?: () => number;
}

export const defaultClock: KubeClock = Object.freeze({
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
});

export function gvrString(o: Pick<InformerOptions, 'group' | 'version' | 'resource'>): string {
  return `${o.group || 'core'}/${o.version}/${o.resource}`;
}

type EventName = 'add' | 'update' | 'delete' | 'synced';

/**
 * Runs an informer until `options.signal` aborts; resolves once stopped (in-flight request aborted, connection
 * closed). No callback starts after the abort, and one still running then is not waited for. A callback that
 * throws or rejects is logged and counted, and the informer goes on.
 */
export async function createInformer<T = Record<string, unknown>>(
  kc: KubeConfig,
  options: InformerOptions,
  events: InformerEvents<T>,
  deps: InformerDeps,
): Promise<void> {
  for (const f of ['version', 'resource'] as const) {
    if (typeof options[f] !== 'string' || options[f] === '')
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `informer: options.${f} is empty`);
  }
  if (typeof options.group !== 'string')
    throw new ZwError('ZW_ERR_INVALID_ARGUMENT', 'informer: options.group must be a string');
  const { signal } = options;
  if (signal.aborted) return;

  const gvr = gvrString(options);
  const ctx = { gvr, ...(options.namespace ? { namespace: options.namespace } : {}) };
  const { log } = deps;
  const metrics = deps.metrics ?? noInformerMetrics;
  const clock = deps.clock ?? defaultClock;
  const random = deps.random ?? Math.random;
  const t = deps.timing ?? {};
  const stallTimeoutMs = t.stallTimeoutMs ?? 300_000;
  const healthyAfterMs = t.healthyAfterMs ?? 10_000;
  const pageSize = t.pageSize ?? 500;
  const pageBytes = t.pageBytes;
  const watchTimeoutSeconds = t.watchTimeoutSeconds ?? 300;
  const backoff = new Backoff({ ...t.backoff, random });
  const conn = new KubeConnection(kc, {
    requestTimeoutMs: t.requestTimeoutMs ?? 60_000,
    userAgent: 'zen-watcher/informer',
  });
  const path = resourcePath({ ...options, namespace: options.namespace });
  const store = new ObjectStore<T>();

  const call = async (event: EventName, fn: () => void | Promise<void>): Promise<void> => {
    if (signal.aborted) return;
    const report = (err: unknown): void => {
      metrics.callbackError?.(gvr, event);
      log.error({ ...ctx, event, err: errorText(err) }, 'informer callback failed; the informer goes on');
    };
    let ret: unknown;
    try {
      ret = fn();
    } catch (err) {
      report(err);
      return;
    }
    if (typeof (ret as PromiseLike<unknown> | undefined)?.then !== 'function') return;
    await untilAborted(Promise.resolve(ret).catch(report), signal);
  };
  const deliver = async (deltas: Delta<T>[]): Promise<void> => {
    for (const d of deltas) {
      if (d.type === 'add') await call('add', () => events.add?.(d.obj));
      else if (d.type === 'update') await call('update', () => events.update?.(d.obj, d.old));
      else await call('delete', () => events.delete?.(d.obj));
    }
  };

  const transform = deps.transform;
  /** The transformed object, or undefined when the transform threw (counted, logged: the object is dropped). */
  const shape = (obj: unknown): T | undefined => {
    if (!transform) return obj as T;
    try {
      return transform(obj) as T;
    } catch (err) {
      metrics.transformError?.(gvr);
      const m = metaOf(obj);
      log.warn(
        { ...ctx, object: `${m.namespace ? `${m.namespace}/` : ''}${m.name ?? '?'}`, err: errorText(err) },
        'informer: transform failed; the object is ignored',
      );
      return undefined;
    }
  };

  const listAll = async (): Promise<{ items: T[]; resourceVersion: string; pages: number }> => {
    const items: T[] = [];
    let cont: string | undefined;
    // With a byte budget the first page is small (object sizes are unknown yet); the next ones adapt.
    let limit: number | undefined = pageBytes !== undefined ? Math.min(pageSize, FIRST_PAGE) : pageSize;
    let bytes = 0;
    let pages = 0;
    let listed = 0;
    for (;;) {
      let page: ListPage<T>;
      const info: { bytes?: number } = {};
      try {
        page = await conn.json<ListPage<T>>(
          {
            path,
            query: {
              limit,
              continue: cont,
              labelSelector: options.labelSelector,
              fieldSelector: options.fieldSelector,
            },
            signal,
            ...(deps.accept ? { accept: deps.accept.list } : {}),
          },
          info,
        );
      } catch (err) {
        if (statusOf(err) === 410 && cont !== undefined) {
          // The continue token expired mid-list: start over with one unpaged list (client-go's pager does the same).
          log.info(ctx, 'informer: list continue token expired; listing again without pages');
          items.length = 0;
          cont = undefined;
          limit = undefined;
          continue;
        }
        throw err;
      }
      for (const item of page.items ?? []) {
        const shaped = shape(withKind(item, page));
        if (shaped !== undefined) items.push(shaped);
      }
      listed += page.items?.length ?? 0;
      pages++;
      bytes += info.bytes ?? 0;
      page.items = undefined; // the raw page can go before the next one is fetched
      if (pageBytes !== undefined && limit !== undefined && listed > 0) {
        limit = Math.max(MIN_PAGE, Math.min(pageSize, Math.floor(pageBytes / (bytes / listed))));
      }
      cont = page.metadata?.continue || undefined;
      if (cont === undefined) return { items, resourceVersion: page.metadata?.resourceVersion ?? '', pages };
    }
  };

  let resourceVersion: string | undefined; // undefined: (re)list before watching
  let lists = 0;
  try {
    while (!signal.aborted) {
      if (resourceVersion === undefined) {
        let listed: { items: T[]; resourceVersion: string; pages: number };
        const release = deps.listGate ? await deps.listGate(signal) : undefined;
        try {
          if (signal.aborted) {
            release?.();
            break;
          }
          listed = await listAll();
        } catch (err) {
          release?.();
          deps.onListError?.(err);
          if (signal.aborted) break;
          const delay = backoff.next();
          metrics.restarts(gvr, 'error');
          log.warn({ ...ctx, err: errorText(err), status: statusOf(err), retryInMs: delay }, 'informer: list failed');
          await clock.sleep(delay, signal);
          continue;
        }
        release?.();
        const deltas = store.replace(listed.items);
        if (lists > 0) {
          metrics.relistDiff(gvr, deltas.length);
          if (deltas.length > 0) log.info({ ...ctx, differences: deltas.length }, 'informer: relist found changes');
        }
        lists++;
        await deliver(deltas);
        await call('synced', () => events.synced?.(store.values()));
        resourceVersion = listed.resourceVersion;
        log.debug({ ...ctx, objects: store.size, pages: listed.pages, resourceVersion }, 'informer: listed');
      }

      const startedAt = clock.now();
      let opened = false;
      const w = await watchOnce({
        conn,
        path,
        resourceVersion,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        accept: deps.accept?.watch,
        timeoutSeconds: Math.floor(watchTimeoutSeconds * (1 + random())),
        stallTimeoutMs,
        signal,
        onOpen: () => {
          opened = true;
        },
        onEvent: (type, obj) => {
          const shaped = shape(obj);
          if (shaped !== undefined) return deliver(store.apply(type, shaped));
          // Unreadable (or deleted and unreadable): an older state we held is gone as far as the callbacks know.
          const old = store.get(keyOf(obj));
          return old === undefined ? undefined : deliver(store.apply('DELETED', old));
        },
      });
      if (w.end.kind === 'aborted' || signal.aborted) break;
      resourceVersion = w.resourceVersion;
      const healthy = opened && clock.now() - startedAt >= healthyAfterMs;
      if (healthy) backoff.reset();
      const reason = w.end.kind;
      if (reason !== 'closed') resourceVersion = undefined;
      const delay = healthy ? 0 : backoff.next();
      metrics.restarts(gvr, reason);
      logRestart(log, ctx, w.end, { delay, events: w.events, bookmarks: w.bookmarks });
      if (delay > 0) await clock.sleep(delay, signal);
    }
  } finally {
    await conn.close();
  }
}

/** The smallest list page when pages are sized by `pageBytes`. */
const MIN_PAGE = 2;
/** The first list page when pages are sized by `pageBytes`. */
const FIRST_PAGE = 5;

interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** List items come without apiVersion/kind; watch events have them. Fill them in so both look the same. */
function withKind<T>(item: T, page: ListPage<T>): T {
  const o = item as { apiVersion?: string; kind?: string };
  if (o && typeof o === 'object' && !o.kind && page.kind?.endsWith('List')) {
    o.kind = page.kind.slice(0, -'List'.length);
    o.apiVersion ??= page.apiVersion;
  }
  return item;
}

function logRestart(
  log: KubeLog,
  ctx: object,
  end: Exclude<WatchEnd, { kind: 'aborted' }>,
  info: { delay: number; events: number; bookmarks: number },
): void {
  const base = { ...ctx, reason: end.kind, retryInMs: info.delay, events: info.events, bookmarks: info.bookmarks };
  if (end.kind === 'closed') log.debug(base, 'informer: watch closed by the server; watching again');
  else if (end.kind === 'gone') log.info({ ...base, message: end.message }, 'informer: 410 Gone; relisting');
  else if (end.kind === 'stalled') log.warn(base, 'informer: watch stalled (no event, no bookmark); relisting');
  else log.warn({ ...base, err: errorText(end.error), status: end.status }, 'informer: watch failed; relisting');
}

/** Waits for `p`, or until `signal` aborts, whichever comes first. */
function untilAborted(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    p.then(done, done);
  });
}
