/**
 * One Ingester's watch, for one leader term: opens the informer on `spec.informer.gvr` and turns its events into
 * reconcile (resolve: true) or emit (resolve: false) calls. Stops when the term's signal or stop() aborts it.
 *
 *   add / update  → map the object → reconcile(scope, drafts)      (emit(drafts) when resolve is off)
 *   delete        → reconcile(scope, [])                           (nothing when resolve is off)
 *   synced(all)   → reconcileScopes(every scope seen)               (nothing when resolve is off)
 *
 * Handlers never throw: mapping problems are counted and logged (the first of each kind at warn, later ones at
 * debug), host errors are logged. Work is serialized in arrival order.
 */
import { errorText, type IngesterRun, type IngesterView, ingesterKey, type PluginApi } from 'zen-watcher/plugin-api';
import { type CompiledConfig, ConfigError, compileConfig, type InformerConfig, watchTarget } from './config.ts';
import { mapObject, ObjectSkip, scopeOf } from './map.ts';

type Obj = Record<string, unknown>;

export interface WatchMetrics {
  objects: { inc(labels?: Record<string, string>, n?: number): void };
  objectsSkipped: { inc(labels?: Record<string, string>, n?: number): void };
  itemsSkipped: { inc(labels?: Record<string, string>, n?: number): void };
  ingesterErrors: { inc(labels?: Record<string, string>, n?: number): void };
}

export function createWatchMetrics(api: PluginApi<InformerConfig>): WatchMetrics {
  return {
    objects: api.metrics.counter(
      'informer_objects_total',
      'Objects the informer plugin handled, by source and event (add, update, delete).',
      ['source', 'event'],
    ),
    objectsSkipped: api.metrics.counter(
      'informer_objects_skipped_total',
      'Objects skipped as a whole (no document, invalid JSON, wrong shape, too many items); nothing was reconciled.',
      ['source', 'reason'],
    ),
    itemsSkipped: api.metrics.counter(
      'informer_items_skipped_total',
      'Items that could not be mapped (unknown or missing severity, unknown category).',
      ['source', 'reason'],
    ),
    ingesterErrors: api.metrics.counter(
      'informer_ingester_errors_total',
      'Ingesters the informer plugin could not start (missing spec.informer.gvr, invalid config, standalone mode).',
      ['source', 'reason'],
    ),
  };
}

export class IngesterWatch {
  readonly #api: PluginApi<InformerConfig>;
  readonly #view: IngesterView<InformerConfig>;
  readonly #metrics: WatchMetrics;
  readonly #run: IngesterRun;
  readonly #signal: AbortSignal;
  readonly #log: PluginApi<InformerConfig>['log'];
  #cfg!: CompiledConfig;
  #apiVersion = '';
  /** Scopes present in the watch (resolve on): what reconcileScopes keeps. */
  readonly #live = new Set<string>();
  /** Scopes last reconciled to [] this term: a further [] would change nothing, so it is not sent again. */
  readonly #empty = new Set<string>();
  readonly #warned = new Set<string>();
  #chain: Promise<void> = Promise.resolve();

  constructor(
    api: PluginApi<InformerConfig>,
    view: IngesterView<InformerConfig>,
    run: IngesterRun,
    metrics: WatchMetrics,
  ) {
    this.#api = api;
    this.#view = view;
    this.#metrics = metrics;
    this.#run = run;
    this.#signal = run.signal;
    this.#log = api.log.child({ ingester: ingesterKey(view), source: view.source });
  }

  get signal(): AbortSignal {
    return this.#signal;
  }

  /** Check the Ingester and open the informer. Returns false (after logging why) when it cannot run. */
  start(): boolean {
    const kube = this.#api.kube;
    let target: ReturnType<typeof watchTarget>;
    try {
      target = watchTarget(this.#view);
      this.#cfg = compileConfig(this.#view.config);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#metrics.ingesterErrors.inc({
        source: this.#view.source,
        reason: err.field === 'spec.informer.gvr' ? 'missing_gvr' : 'invalid_config',
      });
      this.#log.error(`Ingester not started: ${err.message}`, { field: err.field });
      return false;
    }
    if (!kube) {
      this.#metrics.ingesterErrors.inc({ source: this.#view.source, reason: 'standalone' });
      this.#log.warn('Ingester not started: informer sources need kubernetes mode (there is no cluster to watch)');
      return false;
    }
    const where = target;
    this.#apiVersion = where.group ? `${where.group}/${where.version}` : where.version;
    const gvr = `${where.group || 'core'}/${where.version}/${where.resource}`;
    if (where.resource === 'events' && where.group === '' && this.#cfg.resolve) {
      this.#log.info(
        'watching Events with resolve: true: Events expire after about an hour, which resolves their Observations; set config.resolve: false to keep them Active',
      );
    }
    this.#log.info('watching', { gvr, ...where, resolve: this.#cfg.resolve });
    kube
      .informer<Obj>(
        { ...where, signal: this.#signal },
        {
          add: (o) => this.#serial(() => this.#apply(o, 'add')),
          update: (o) => this.#serial(() => this.#apply(o, 'update')),
          delete: (o) => this.#serial(() => this.#remove(o)),
          synced: (all) => this.#serial(() => this.#synced(all)),
        },
      )
      .catch((err: unknown) => {
        if (!this.#signal.aborted) this.#log.error('informer stopped', { gvr, err: errorText(err) });
      });
    void kube
      .hasResource(where.group, where.version, where.resource)
      .then((served) => {
        if (!served && !this.#signal.aborted)
          this.#log.warn(
            `the API server does not serve ${gvr} (is its CRD installed?); the informer keeps retrying with backoff`,
          );
      })
      .catch(() => {});
    return true;
  }

  /** Wait for queued work (tests). */
  idle(): Promise<void> {
    return this.#chain;
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(() => (this.#signal.aborted ? undefined : fn()));
    this.#chain = next.catch(() => {});
    return this.#chain;
  }

  async #apply(obj: Obj, event: 'add' | 'update'): Promise<void> {
    const source = this.#view.source;
    this.#metrics.objects.inc({ source, event });
    const scope = scopeOf(obj);
    const cfg = this.#cfg;
    let mapped: ReturnType<typeof mapObject>;
    try {
      mapped = mapObject(obj, cfg, this.#api.severityOf, { apiVersion: this.#apiVersion });
    } catch (err) {
      if (!(err instanceof ObjectSkip)) {
        this.#log.error('mapping failed', { object: scope, err: errorText(err) });
        return;
      }
      this.#metrics.objectsSkipped.inc({ source, reason: err.reason });
      this.#note(`object:${err.reason}`, `object skipped (${err.reason}): ${err.message}`, { object: scope });
      // Still present: a skipped object must not count as gone when the watch syncs.
      if (scope && cfg.resolve) this.#live.add(scope);
      return;
    }
    for (const s of mapped.skipped) {
      this.#metrics.itemsSkipped.inc({ source, reason: s.reason });
      this.#note(`item:${s.reason}`, `item skipped (${s.reason}): ${s.message}`, {
        object: mapped.scope,
        item: s.item,
        field: `spec.config.${s.field}`,
      });
    }
    try {
      if (cfg.resolve) {
        this.#live.add(mapped.scope);
        if (mapped.drafts.length === 0 && this.#empty.has(mapped.scope)) return;
        // A failed or partly dropped write is retried by the host (run.reconcile).
        const written = await this.#run.reconcile(mapped.scope, mapped.drafts);
        if (written && mapped.drafts.length === 0) this.#empty.add(mapped.scope);
        else this.#empty.delete(mapped.scope);
      } else if (mapped.drafts.length > 0) {
        await this.#api.emit(this.#view, mapped.drafts, { signal: this.#signal });
      }
    } catch (err) {
      if (!this.#signal.aborted)
        this.#log.warn('writing findings failed', { object: mapped.scope, err: errorText(err) });
    }
  }

  async #remove(obj: Obj): Promise<void> {
    this.#metrics.objects.inc({ source: this.#view.source, event: 'delete' });
    const scope = scopeOf(obj);
    if (!scope || !this.#cfg.resolve) return;
    this.#live.delete(scope);
    if (this.#empty.has(scope)) return;
    if (await this.#run.reconcile(scope, [])) this.#empty.add(scope);
  }

  async #synced(all: Obj[]): Promise<void> {
    if (!this.#cfg.resolve) return;
    // With WATCH_NAMESPACE listing several namespaces the host runs one informer per namespace and each syncs with
    // its own objects only; the union of everything seen keeps the others' scopes alive.
    for (const o of all) {
      const s = scopeOf(o);
      if (s) this.#live.add(s);
    }
    await this.#run.reconcileScopes([...this.#live]);
  }

  #note(kind: string, msg: string, meta: object) {
    if (this.#warned.has(kind)) this.#log.debug(msg, meta);
    else {
      this.#warned.add(kind);
      this.#log.warn(`${msg} (later ones of this kind are logged at debug)`, meta);
    }
  }
}
