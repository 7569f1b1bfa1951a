/**
 * Host-managed per-Ingester leader work (plugin API 1.2.0, `api.leaderWork`), in the spirit of controller-runtime's
 * LeaderElectionRunnable: a plugin says what to run for one Ingester; the host runs it on the leader and owns the
 * bookkeeping every informer plugin used to write itself —
 *
 * - start a run for every matching Ingester when a term starts, and for an Ingester added during the term;
 * - on an update, abort the old run's signal and start a new run with the new spec; on removal, abort it;
 * - at the end of the term every run's signal aborts (it derives from the term's), and when the host stops (onStop);
 * - `run.reconcile` / `run.reconcileScopes`: serialized per run; a scope whose writes were dropped, or whose call
 *   failed, is kept (latest drafts only) and reconciled again with backoff, 1 s doubling to 60 s, until it
 *   succeeds, the plugin reconciles it again itself, or the run ends — one retry mechanism for every plugin;
 * - `run.whenServed`: CRD discovery, re-checked while the resource is not served.
 *
 * Counted: `zen_watcher_leader_work_runs` (running), `zen_watcher_leader_work_retries_total` (by reason),
 * `zen_watcher_leader_work_errors_total` (a start that threw).
 *
 * Sharded (ADR 0020, `ZEN_SHARD_SLOTS` > 1, kubernetes mode): the "term" is an epoch of the shard hub — a stretch of
 * time with a fixed set of owned slots — instead of the leader term, on every replica that holds a slot. The run
 * starts and all its calls run inside `shardWork` (core/shard/context.ts), so its plugin informers keep only the
 * units the epoch owns, its writes are guarded by the epoch's slots, and its `reconcileScopes` looks only at
 * Observations of owned units. The plugin sees the same API either way.
 *
 * Over 250 lines on purpose: the registration and its private `Run` (the per-Ingester state machine: start, retry
 * queue, backoff, stop) are one unit whose only export is registerLeaderWork; it is being reworked for sharding
 * (#13), and `Run` can move to its own module once that settles.
 */
import { ZwError, zwError } from '../api/errors.ts';
import { errorText, ingesterKey } from '../api/helpers.ts';
import type {
  IngesterChange,
  IngesterRun,
  IngesterView,
  IngesterWork,
  LeaderTerm,
  ObservationDraft,
  PluginApi,
  PluginLogger,
} from '../api/index.ts';
import { type ShardEpoch, type ShardWork, shardWork, workFor } from '../shard/context.ts';
import type { ShardHub } from '../shard/hub.ts';

export interface LeaderWorkMetrics {
  runs(plugin: string, delta: number): void;
  retry(plugin: string, reason: 'dropped' | 'failed'): void;
  startError(plugin: string): void;
  /** Sharded: units (namespaces, or the cluster unit) whose objects the run of `ingester` keeps. */
  units?(ingester: string, n: number): void;
}

export interface LeaderWorkTiming {
  retryInitialMs?: number;
  retryMaxMs?: number;
  recheckMs?: number;
}

type Api = Pick<PluginApi, 'hooks' | 'ingesters' | 'reconcile' | 'reconcileScopes' | 'kube'>;

/** Registers one `api.leaderWork(work)` declaration of plugin `plugin`: taps its leader and Ingester hooks. */
export function registerLeaderWork(
  plugin: string,
  handlers: readonly string[],
  api: Api,
  log: PluginLogger,
  metrics: LeaderWorkMetrics,
  work: IngesterWork,
  timing: LeaderWorkTiming = {},
  shard?: ShardHub,
): void {
  if (!work || typeof work.start !== 'function') {
    throw zwError('ZW_ERR_PLUGIN_API', { plugin, detail: 'leaderWork needs { start(ingester, run) }' });
  }
  if (work.handler !== undefined && !handlers.includes(work.handler)) {
    throw zwError('ZW_ERR_PLUGIN_API', {
      plugin,
      detail: `leaderWork handler '${work.handler}' is not in its manifest's sources [${handlers.join(', ')}]`,
    });
  }
  const type = work.ingester ?? 'informer';
  const matches = (i: IngesterView) =>
    (work.handler === undefined ? handlers.includes(i.handler) : i.handler === work.handler) &&
    (type === 'any' || i.ingester === type);
  let term: LeaderTerm | undefined;
  /** Sharded: the epoch `term` stands for. */
  let epoch: ShardEpoch | undefined;
  const runs = new Map<string, Run>();

  const stop = (key: string, why: string) => {
    const run = runs.get(key);
    if (!run) return;
    runs.delete(key);
    run.stop(why);
  };
  const start = (ingester: IngesterView, t: LeaderTerm) => {
    if (!matches(ingester) || t.signal.aborted) return;
    const key = ingesterKey(ingester);
    const ctx = epoch && epoch.signal === t.signal ? workFor(epoch, key, (n) => metrics.units?.(key, n)) : undefined;
    const run = new Run(plugin, ingester, t, api, log.child({ ingester: key }), metrics, timing, ctx);
    runs.set(key, run);
    run.start(work);
  };

  const begin = (t: LeaderTerm) => {
    for (const key of [...runs.keys()]) stop(key, 'new leader term');
    term = t;
    t.signal.addEventListener(
      'abort',
      () => {
        if (term !== t) return;
        term = undefined;
        for (const key of [...runs.keys()]) stop(key, 'leader term ended');
      },
      { once: true },
    );
    for (const ingester of api.ingesters()) start(ingester, t);
  };
  if (shard?.enabled) {
    // Sharded: every replica holding a slot runs the work for the units it owns, one epoch at a time.
    shard.onEpoch((e) => {
      epoch = e;
      begin({ signal: e.signal, identity: e.identity, startedAt: e.startedAt });
    });
  } else api.hooks.onBecomeLeader.tapPromise(async (t) => begin(t));
  // The host stops: every run ends (the term's signal usually aborts too; this does not wait for it).
  api.hooks.onStop.tapPromise(async () => {
    term = undefined;
    for (const key of [...runs.keys()]) stop(key, 'host stopping');
  });
  api.hooks.onIngesterChanged.tapPromise(async (change: IngesterChange) => {
    const t = term;
    if (!t || t.signal.aborted) return;
    if (change.previous) stop(ingesterKey(change.previous), `Ingester ${change.type}`);
    stop(ingesterKey(change.ingester), `Ingester ${change.type}`);
    if (change.type !== 'removed') start(change.ingester, t);
  });
}

class Run implements IngesterRun {
  readonly signal: AbortSignal;
  readonly term: LeaderTerm;
  readonly #plugin: string;
  readonly #ingester: IngesterView;
  readonly #api: Api;
  readonly #log: PluginLogger;
  readonly #metrics: LeaderWorkMetrics;
  readonly #ctl = new AbortController();
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #recheckMs: number;
  /** Sharded: what every call of this run runs under (core/shard/context.ts). */
  readonly #ctx: ShardWork | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  /** Scopes left to the retry, with the drafts last passed for them. */
  readonly #pending = new Map<string, ObservationDraft[]>();
  #pendingLive: readonly string[] | undefined;
  #delay: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    plugin: string,
    ingester: IngesterView,
    term: LeaderTerm,
    api: Api,
    log: PluginLogger,
    metrics: LeaderWorkMetrics,
    timing: LeaderWorkTiming,
    ctx?: ShardWork,
  ) {
    this.#ctx = ctx;
    this.#plugin = plugin;
    this.#ingester = ingester;
    this.term = term;
    this.#api = api;
    this.#log = log;
    this.#metrics = metrics;
    this.#initialMs = timing.retryInitialMs ?? 1_000;
    this.#maxMs = timing.retryMaxMs ?? 60_000;
    this.#recheckMs = timing.recheckMs ?? 60_000;
    this.#delay = this.#initialMs;
    this.signal = AbortSignal.any([term.signal, this.#ctl.signal]);
  }

  start(work: IngesterWork): void {
    this.#metrics.runs(this.#plugin, 1);
    this.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(this.#timer);
        this.#pending.clear();
        this.#pendingLive = undefined;
        this.#metrics.runs(this.#plugin, -1);
        if (this.#ctx) this.#metrics.units?.(this.#ctx.ingester, 0);
      },
      { once: true },
    );
    const failed = (err: unknown) => {
      if (this.signal.aborted) return;
      this.#metrics.startError(this.#plugin);
      this.#log.error('leader work failed to start; it stays stopped until the Ingester changes or the next term', {
        err: errorText(err),
      });
    };
    try {
      const r = this.#within(() => work.start(this.#ingester, this));
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  stop(why: string): void {
    if (this.#ctl.signal.aborted) return;
    this.#ctl.abort(new ZwError('ZW_ERR_ABORTED', why));
  }

  reconcile(scope: string, drafts: ObservationDraft[]): Promise<boolean> {
    return this.#serial(() => this.#reconcileNow(scope, drafts));
  }

  async #reconcileNow(scope: string, drafts: ObservationDraft[]): Promise<boolean> {
    if (this.signal.aborted) return false;
    this.#pending.delete(scope); // what the plugin passes now supersedes what a retry would send
    try {
      const r = await this.#within(() => this.#api.reconcile(this.#ingester, scope, drafts, { signal: this.signal }));
      if (this.signal.aborted) return false;
      if (r.dropped > 0) return this.#retryLater(scope, drafts, 'dropped', `${r.dropped} finding(s) not written`);
      this.#succeeded();
      return true;
    } catch (err) {
      if (this.signal.aborted) return false;
      return this.#retryLater(scope, drafts, 'failed', errorText(err));
    }
  }

  reconcileScopes(liveScopes: readonly string[]): Promise<boolean> {
    const live = [...liveScopes];
    return this.#serial(() => this.#reconcileScopesNow(live));
  }

  async #reconcileScopesNow(live: readonly string[]): Promise<boolean> {
    if (this.signal.aborted) return false;
    this.#pendingLive = undefined;
    try {
      await this.#within(() => this.#api.reconcileScopes(this.#ingester, live, { signal: this.signal }));
      if (this.signal.aborted) return false;
      this.#succeeded();
      return true;
    } catch (err) {
      if (this.signal.aborted) return false;
      this.#pendingLive = [...live];
      this.#metrics.retry(this.#plugin, 'failed');
      this.#log.warn('reconciling the live scopes failed; the host retries', {
        err: errorText(err),
        retryInMs: this.#delay,
      });
      this.#arm();
      return false;
    }
  }

  async whenServed(
    group: string,
    version: string,
    resource: string,
    options: { recheckMs?: number; onUnavailable?(state: 'absent' | 'unknown', err?: unknown): void } = {},
  ): Promise<boolean> {
    const kube = this.#api.kube;
    if (!kube) return false;
    const every = options.recheckMs ?? this.#recheckMs;
    let last: 'absent' | 'unknown' | undefined;
    while (!this.signal.aborted) {
      let state: 'absent' | 'unknown' | 'served';
      let error: unknown;
      try {
        state = (await kube.hasResource(group, version, resource)) ? 'served' : 'absent';
      } catch (err) {
        state = 'unknown';
        error = err;
      }
      if (this.signal.aborted) return false;
      if (state === 'served') return true;
      if (state !== last) {
        last = state;
        try {
          options.onUnavailable?.(state, error);
        } catch (err) {
          this.#log.error('whenServed: onUnavailable threw', { err: errorText(err) });
        }
      }
      await sleep(every, this.signal);
    }
    return false;
  }

  #retry(scope: string): Promise<boolean> {
    return this.#serial(async () => {
      const drafts = this.#pending.get(scope);
      return drafts === undefined ? true : this.#reconcileNow(scope, drafts);
    });
  }

  #retryLive(): Promise<boolean> {
    return this.#serial(async () => {
      const live = this.#pendingLive;
      return live === undefined ? true : this.#reconcileScopesNow(live);
    });
  }

  /** Runs `fn` in this run's shard context (sharded), or as is. */
  #within<T>(fn: () => T): T {
    return this.#ctx ? shardWork.run(this.#ctx, fn) : fn();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => {});
    return next;
  }

  #retryLater(scope: string, drafts: ObservationDraft[], reason: 'dropped' | 'failed', why: string): false {
    this.#pending.set(scope, drafts);
    this.#metrics.retry(this.#plugin, reason);
    this.#log.warn('a scope was not written completely; the host retries it', { scope, why, retryInMs: this.#delay });
    this.#arm();
    return false;
  }

  #succeeded(): void {
    if (this.#pending.size === 0 && this.#pendingLive === undefined) this.#delay = this.#initialMs;
  }

  #arm(): void {
    if (this.#timer || this.signal.aborted) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#maxMs);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.signal.aborted) return;
      // Read what is pending when each retry's turn comes, not now: a reconcile the plugin queued meanwhile wins,
      // and a stale retry must never run after it.
      for (const scope of [...this.#pending.keys()]) void this.#retry(scope);
      if (this.#pendingLive) void this.#retryLive();
    }, delay);
    this.#timer.unref?.();
  }
}

/** Resolves after `ms`, or early once `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref?.();
    signal.addEventListener('abort', done, { once: true });
  });
}
