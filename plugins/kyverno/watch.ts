/**
 * One Kyverno Ingester on the leader: discovers which report CRDs the API server serves (re-checking the missing
 * ones every `discoveryIntervalSeconds` until the term ends), runs an informer per report kind (and per namespace
 * when `namespaces` is set), and reconciles each scope's findings through the host's resolver.
 *
 * Handlers never throw: a bad report, a failed reconcile or a failed informer is logged and counted, and the rest
 * keeps going. All work of one Ingester runs in one queue, so the findings of a scope are never reconciled by two
 * events at once and `reconcileScopes` never races a reconcile.
 */
import { createHash } from 'node:crypto';
import {
  DraftStash,
  type IngesterRun,
  type IngesterView,
  ingesterKey,
  namespacesInScope,
  type ObservationDraft,
  type PluginApi,
  type PluginLogger,
  RetryBackoff,
  type Severity,
  severityRank,
} from 'zen-watcher/plugin-api';
import { crdName, REPORT_KINDS, type ReportKind } from './kinds.ts';
import { type KyvernoConfig, type MappedReport, mapReport, reportKey } from './map.ts';

export interface KyvernoMetrics {
  crdAvailable: { set(value: number, labels?: Record<string, string>): void };
  skipped: { inc(labels?: Record<string, string>, n?: number): void };
  errors: { inc(labels?: Record<string, string>, n?: number): void };
}

export function createMetrics(api: PluginApi<KyvernoConfig>): KyvernoMetrics {
  return {
    crdAvailable: api.metrics.gauge(
      'kyverno_crd_available',
      'Whether the API server serves a policy-report resource the kyverno plugin watches (1) or not (0: CRD missing; re-checked periodically).',
      ['resource'],
    ),
    skipped: api.metrics.counter(
      'kyverno_results_skipped_total',
      'Policy report results not turned into Observations, by reason (result: not in config.results, e.g. pass/skip; below_min_severity; invalid: no policy or unknown result).',
      ['source', 'reason'],
    ),
    errors: api.metrics.counter(
      'kyverno_errors_total',
      'Failures of the kyverno plugin, by reason (invalid_report, invalid_gvr, reconcile_failed, informer_failed, discovery_failed, read_failed: reading a report again for its reconcile failed; retried).',
      ['source', 'reason'],
    ),
  };
}

interface Stream {
  readonly id: string;
  readonly kind: ReportKind;
  readonly namespace?: string;
  synced: boolean;
  failed: boolean;
}

interface Known {
  scope: string;
  /** Signature of the report's drafts (see `signature`); the drafts themselves are not kept. */
  sig: string;
  stream: string;
  /** What to read (`api.kube.get`) when the drafts are needed again; no name: nothing to read. */
  kind: ReportKind;
  namespace: string | undefined;
  name: string | undefined;
  /** resourceVersion (or content) last reconciled successfully; '' = reconcile again on the next event. */
  version: string;
}

/** Drafts held between an informer event and the reconcile that uses them, at most, per Ingester (see #stash). */
export const DRAFT_BUDGET = 5_000;

/** Watches: which report kinds this Ingester wants (config.reportKinds, narrowed by informer.gvr if set). */
export function wantedKinds(view: IngesterView<KyvernoConfig>, config: KyvernoConfig): ReportKind[] {
  const gvr = view.informer?.gvr;
  return REPORT_KINDS.filter(
    (k) =>
      config.reportKinds.includes(k.kind) &&
      (!gvr || ((gvr.group ?? '') === k.group && gvr.version === k.version && gvr.resource === k.resource)),
  );
}

/** Namespaces for the namespaced kinds: config.namespaces, narrowed by informer.namespace; [] = all. */
export function watchedNamespaces(view: IngesterView<KyvernoConfig>, config: KyvernoConfig): string[] | 'none' {
  return namespacesInScope(config.namespaces, view.informer?.namespace);
}

export class IngesterRunner {
  readonly view: IngesterView<KyvernoConfig>;
  readonly #api: PluginApi<KyvernoConfig>;
  readonly #log: PluginLogger;
  readonly #metrics: KyvernoMetrics;
  readonly #config: KyvernoConfig;
  readonly #run: IngesterRun;
  readonly #signal: AbortSignal;
  readonly #wanted: ReportKind[];
  /** Cluster-scoped kinds left out because the watch is namespace-restricted. */
  readonly #skippedCluster: ReportKind[];
  readonly #started = new Set<string>();
  readonly #missing = new Set<string>();
  readonly #streams = new Map<string, Stream>();
  readonly #reports = new Map<string, Known>();
  readonly #scopes = new Map<string, Set<string>>();
  #queue: Promise<void> = Promise.resolve();
  #scopesReconciled = false;
  /** Drafts the transform mapped and no reconcile used yet, by report key, within the budget (plugin API 1.3.0). */
  readonly #fresh: DraftStash;
  /** Scopes reconciled again after a report could not be read, 1 s doubling to 60 s (plugin API 1.3.0). */
  readonly #retry: RetryBackoff;

  constructor(
    view: IngesterView<KyvernoConfig>,
    api: PluginApi<KyvernoConfig>,
    metrics: KyvernoMetrics,
    run: IngesterRun,
    opts: { watchNamespaces?: readonly string[]; draftBudget?: number } = {},
  ) {
    this.view = view;
    this.#api = api;
    this.#metrics = metrics;
    this.#config = view.config;
    this.#log = api.log.child({ ingester: ingesterKey(view) });
    this.#run = run;
    this.#signal = run.signal;
    this.#fresh = new DraftStash({ budget: opts.draftBudget ?? DRAFT_BUDGET, signal: run.signal });
    this.#retry = new RetryBackoff({
      signal: run.signal,
      retry: (scope) =>
        void this.#enqueue(async () => {
          await this.#reconcile(scope);
        }),
    });
    const wanted = wantedKinds(view, this.#config);
    // Cluster-scoped reports are in no namespace: a namespace-restricted watch (spec.informer.namespace, or the
    // host's WATCH_NAMESPACE, which scopes every plugin informer) cannot list them.
    const restricted = view.informer?.namespace || (opts.watchNamespaces?.length ?? 0) > 0;
    this.#wanted = restricted ? wanted.filter((k) => k.namespaced) : wanted;
    this.#skippedCluster = restricted ? wanted.filter((k) => !k.namespaced) : [];
  }

  get signal(): AbortSignal {
    return this.#signal;
  }

  start(): void {
    if (this.#skippedCluster.length > 0) {
      this.#log.warn(
        `${this.#skippedCluster.map((k) => k.kind).join(' and ')} not watched: cluster-scoped reports cannot be listed by a namespace-restricted watch (spec.informer.namespace or WATCH_NAMESPACE)`,
      );
    }
    if (this.view.informer?.gvr && this.#wanted.length === 0 && this.#skippedCluster.length === 0) {
      const g = this.view.informer.gvr;
      this.#log.error(
        `informer.gvr ${g.group ?? ''}/${g.version}/${g.resource} is not a policy-report resource this plugin knows (or is excluded by config.reportKinds); nothing is watched`,
      );
      this.#metrics.errors.inc({ source: this.view.source, reason: 'invalid_gvr' });
      return;
    }
    if (!this.#api.kube) {
      this.#log.error('no Kubernetes access (standalone mode): policy reports cannot be watched');
      return;
    }
    for (const k of this.#wanted) void this.#discover(k);
    // Nothing wanted at all: a first complete picture already allows the orphan sweep.
    if (this.#wanted.length === 0) void this.#enqueue(() => this.#sweep());
  }

  /** Discovery by the host (`run.whenServed`, re-checked every discoveryIntervalSeconds); then watch the kind. */
  async #discover(k: ReportKind): Promise<void> {
    const served = await this.#run.whenServed(k.group, k.version, k.resource, {
      recheckMs: this.#config.discoveryIntervalSeconds * 1000,
      onUnavailable: (state, err) => {
        if (state === 'unknown') {
          this.#missing.delete(k.kind);
          this.#failed('discovery_failed', err, { resource: crdName(k) });
          return;
        }
        this.#metrics.crdAvailable.set(0, { resource: crdName(k) });
        this.#missing.add(k.kind);
        this.#log.warn(
          `CRD ${crdName(k)} (${k.version}) is not served: ${k.kind} reports are not watched; checking again every ${this.#config.discoveryIntervalSeconds}s`,
          { resource: crdName(k) },
        );
        // Nothing unknown any more: a first complete picture may already allow the orphan sweep.
        if (!this.#scopesReconciled) void this.#enqueue(() => this.#sweep());
      },
    });
    if (!served || this.#signal.aborted) return;
    this.#metrics.crdAvailable.set(1, { resource: crdName(k) });
    if (this.#missing.delete(k.kind)) {
      this.#log.info(`CRD ${crdName(k)} (${k.version}) is served now: watching ${k.kind} reports`);
    }
    this.#startKind(k);
  }

  #startKind(k: ReportKind): void {
    this.#started.add(k.kind);
    const namespaces = k.namespaced ? watchedNamespaces(this.view, this.#config) : [];
    if (namespaces === 'none') {
      this.#log.warn(
        `informer.namespace ${this.view.informer?.namespace} is not in config.namespaces: no ${k.kind} is watched`,
      );
      return;
    }
    for (const namespace of namespaces.length ? namespaces : [undefined]) {
      const stream: Stream = {
        id: `${k.kind}/${namespace ?? ''}`,
        kind: k,
        ...(namespace ? { namespace } : {}),
        synced: false,
        failed: false,
      };
      this.#streams.set(stream.id, stream);
      const informer = this.view.informer;
      const kube = this.#api.kube!;
      Promise.resolve()
        .then(() =>
          kube.informer(
            {
              group: k.group,
              version: k.version,
              resource: k.resource,
              ...(namespace ? { namespace } : {}),
              ...(informer?.labelSelector ? { labelSelector: informer.labelSelector } : {}),
              ...(informer?.fieldSelector ? { fieldSelector: informer.fieldSelector } : {}),
              signal: this.#signal,
              // Plugin API 1.2.0: the informer keeps the report's identity and a signature of its findings; the
              // drafts wait in #fresh (bounded) or are read again when reconciled.
              transform: (obj: unknown) => this.#shape(obj, k),
            },
            {
              add: (obj) => this.#enqueue(() => this.#upsert(stream, obj)),
              update: (obj) => this.#enqueue(() => this.#upsert(stream, obj)),
              delete: (obj) => this.#enqueue(() => this.#remove(stream, obj)),
              synced: (objects) => this.#enqueue(() => this.#synced(stream, objects)),
            },
          ),
        )
        .catch((err) => {
          // The stream will never sync; don't let it block the orphan sweep of the others.
          stream.failed = true;
          this.#failed('informer_failed', err, { resource: crdName(k), namespace });
          return this.#enqueue(() => this.#sweep());
        });
    }
  }

  /** Serializes the Ingester's work; the returned promise never rejects. */
  #enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#signal.aborted) return;
      try {
        await fn();
      } catch (err) {
        if (!this.#signal.aborted) this.#failed('reconcile_failed', err);
      }
    });
    this.#queue = run;
    return run;
  }

  /** The transform: maps the report, keeps its drafts in #fresh while the budget allows, returns the slim form. */
  #shape(obj: unknown, kind: ReportKind): SlimReport {
    const slim = slimReport(obj, kind, this.#config);
    const m = slim[MAPPED];
    if (m?.drafts) this.#fresh.put(m.key, m.sig, m.drafts);
    if (m) delete m.drafts;
    return slim;
  }

  #map(stream: Stream, obj: unknown): SlimMapped | undefined {
    const slim = obj as { [MAPPED]?: SlimMapped } | null;
    const mapped =
      slim && typeof slim === 'object' && MAPPED in slim ? slim[MAPPED] : this.#shape(obj, stream.kind)[MAPPED];
    const source = this.view.source;
    if (!mapped) {
      this.#metrics.errors.inc({ source, reason: 'invalid_report' });
      this.#log.debug(`ignored a ${stream.kind.kind} event that is not an object`);
      return undefined;
    }
    const s = mapped.skipped;
    if (s.result) this.#metrics.skipped.inc({ source, reason: 'result' }, s.result);
    if (s.belowMinSeverity) this.#metrics.skipped.inc({ source, reason: 'below_min_severity' }, s.belowMinSeverity);
    if (s.invalid) {
      this.#metrics.skipped.inc({ source, reason: 'invalid' }, s.invalid);
      this.#log.debug(`skipped ${s.invalid} unusable result(s) in ${mapped.key}`);
    }
    return mapped;
  }

  async #upsert(stream: Stream, obj: unknown): Promise<void> {
    const version = versionOf(obj);
    const key = keyOf(obj, stream.kind);
    const prev = key ? this.#reports.get(key) : undefined;
    if (prev && prev.version !== '' && prev.version === version) {
      if (key) this.#fresh.drop(key);
      return; // a relist of what we already hold
    }
    const mapped = this.#map(stream, obj);
    if (!mapped) return;
    const known: Known = {
      scope: mapped.scope,
      sig: mapped.sig,
      stream: stream.id,
      kind: stream.kind,
      namespace: mapped.namespace,
      name: mapped.name,
      version: '',
    };
    this.#reports.set(mapped.key, known);
    this.#index(mapped.key, mapped.scope);
    if (prev && prev.scope !== mapped.scope) {
      this.#unindex(mapped.key, prev.scope);
      await this.#reconcile(prev.scope);
    }
    if (await this.#reconcile(mapped.scope)) known.version = version;
  }

  async #remove(stream: Stream, obj: unknown): Promise<void> {
    const key = keyOf(obj, stream.kind);
    if (!key) {
      this.#metrics.errors.inc({ source: this.view.source, reason: 'invalid_report' });
      return;
    }
    const prev = this.#reports.get(key);
    this.#fresh.drop(key);
    const scope = prev?.scope ?? this.#map(stream, obj)?.scope;
    this.#fresh.drop(key);
    this.#reports.delete(key);
    if (scope === undefined) return;
    this.#unindex(key, scope);
    await this.#reconcile(scope);
  }

  /** A complete (re)list of one stream: bring what we hold in line, then maybe sweep orphaned scopes. */
  async #synced(stream: Stream, objects: unknown[]): Promise<void> {
    const present = new Set<string>();
    for (const obj of objects) {
      if (this.#signal.aborted) return;
      const key = keyOf(obj, stream.kind);
      if (key) present.add(key);
      try {
        await this.#upsert(stream, obj);
      } catch (err) {
        if (!this.#signal.aborted) this.#failed('reconcile_failed', err, { report: key });
      }
    }
    for (const [key, known] of [...this.#reports]) {
      if (known.stream !== stream.id || present.has(key)) continue;
      this.#reports.delete(key);
      this.#unindex(key, known.scope);
      await this.#reconcile(known.scope);
    }
    stream.synced = true;
    await this.#sweep(true);
  }

  /**
   * reconcileScopes once every wanted kind is known (watched or confirmed missing) and every stream has listed:
   * the first time after discovery, and again after every complete relist.
   */
  async #sweep(relist = false): Promise<void> {
    if (this.#scopesReconciled && !relist) return;
    if (!this.#wanted.every((k) => this.#started.has(k.kind) || this.#missing.has(k.kind))) return;
    for (const s of this.#streams.values()) if (!s.synced && !s.failed) return;
    this.#scopesReconciled = true;
    await this.#run.reconcileScopes([...this.#scopes.keys()]);
  }

  #index(key: string, scope: string): void {
    const keys = this.#scopes.get(scope) ?? new Set<string>();
    this.#scopes.set(scope, keys);
    keys.add(key);
  }

  #unindex(key: string, scope: string): void {
    const keys = this.#scopes.get(scope);
    keys?.delete(key);
    if (keys?.size === 0) this.#scopes.delete(scope);
  }

  /**
   * The complete set of one scope: the union of the findings of every report about it (e.g. both API groups). The
   * drafts are built for this call only: from #fresh when the transform kept them, else by reading the report.
   */
  async #reconcile(scope: string): Promise<boolean> {
    const lastRetryMs = this.#retry.cancel(scope);
    const drafts = new Map<string, ObservationDraft>();
    for (const key of this.#scopes.get(scope) ?? []) {
      const known = this.#reports.get(key);
      if (!known) continue;
      let own = this.#fresh.take(key, known.sig);
      if (!own) {
        const read = await this.#read(key, known);
        if (this.#signal.aborted) return false;
        if (read === 'failed') {
          // Reconciling without this report's findings would resolve them: again a bit later instead.
          this.#retry.later(scope, lastRetryMs);
          return false;
        }
        own = read;
      }
      for (const d of own) {
        const prev = drafts.get(d.fingerprint!);
        if (!prev || severityRank(d.severity as Severity) > severityRank(prev.severity as Severity))
          drafts.set(d.fingerprint!, d);
      }
    }
    // A write that failed or was dropped is retried by the host (run.reconcile); false also keeps the report's
    // version unrecorded, so its next delivery (update, relist) reconciles it again.
    return this.#run.reconcile(scope, [...drafts.values()]);
  }

  /** A report's drafts read again from the API server; gone (404): none. 'failed' is counted and logged. */
  async #read(key: string, known: Known): Promise<ObservationDraft[] | 'failed'> {
    if (!known.name) return 'failed';
    const k = known.kind;
    let obj: Record<string, unknown> | undefined;
    try {
      obj = await this.#api.kube!.get({
        group: k.group,
        version: k.version,
        resource: k.resource,
        ...(known.namespace ? { namespace: known.namespace } : {}),
        name: known.name,
        signal: this.#signal,
      });
    } catch (err) {
      if (!this.#signal.aborted) this.#failed('read_failed', err, { report: key });
      return 'failed';
    }
    if (obj === undefined) return [];
    const mapped = mapReport(obj, k, this.#config);
    if (mapped) return mapped.drafts;
    this.#failed('read_failed', new Error('not a report object'), { report: key });
    return 'failed';
  }

  #failed(reason: string, err: unknown, meta: object = {}): void {
    this.#metrics.errors.inc({ source: this.view.source, reason });
    this.#log.warn(`${reason.replace(/_/g, ' ')}: ${err instanceof Error ? err.message : String(err)}`, meta);
  }
}

const MAPPED = Symbol('kyverno.mapped');

/** What the informer keeps of a mapped report: no drafts (after the runner took them), their signature instead. */
export type SlimMapped = Omit<MappedReport, 'drafts'> & {
  sig: string;
  namespace: string | undefined;
  name: string | undefined;
  drafts?: ObservationDraft[];
};

type SlimReport = { metadata: Record<string, unknown>; [MAPPED]: SlimMapped | undefined };

/** Order-independent signature of a report's drafts: their fingerprints and what they say. */
export function signature(drafts: readonly ObservationDraft[]): string {
  const h = createHash('sha256');
  const items = drafts.map((d) =>
    JSON.stringify([
      d.fingerprint ?? '',
      d.severity,
      d.category ?? '',
      d.eventType ?? '',
      d.title,
      d.message ?? '',
      d.detectedAt ?? '',
      d.resource ?? null,
      d.details ?? null,
    ]),
  );
  for (const item of items.sort()) h.update(item).update('\n');
  return h.digest('base64');
}

/** What a report's informer keeps of it (the `transform`): its identity and the signature of its results. */
export function slimReport(obj: unknown, kind: ReportKind, config: KyvernoConfig): SlimReport {
  const meta = (obj as { metadata?: Record<string, unknown> } | null)?.metadata;
  const metadata: Record<string, unknown> = {};
  if (meta && typeof meta === 'object') {
    for (const k of ['name', 'namespace', 'uid', 'resourceVersion'] as const) if (k in meta) metadata[k] = meta[k];
  }
  const mapped = mapReport(obj, kind, config);
  if (!mapped) return { metadata, [MAPPED]: undefined };
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    metadata,
    [MAPPED]: {
      ...mapped,
      sig: signature(mapped.drafts),
      namespace: kind.namespaced ? str(metadata.namespace) : undefined,
      name: str(metadata.name),
    },
  };
}

/** The report's key; a transformed report keeps it in its mapping (a report without a name is keyed by its scope). */
function keyOf(obj: unknown, kind: ReportKind): string | undefined {
  const slim = obj as { [MAPPED]?: SlimMapped } | null;
  if (slim && typeof slim === 'object' && MAPPED in slim) return slim[MAPPED]?.key;
  return reportKey(obj, kind);
}

/** What makes two deliveries of one report "the same": its resourceVersion, else its content. */
function versionOf(obj: unknown): string {
  const rv = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  if (typeof rv === 'string' && rv !== '') return `rv:${rv}`;
  try {
    // A transformed report's content is what the transform kept (the symbol-keyed mapping JSON would not show).
    const slim = obj as { [MAPPED]?: SlimMapped } | null;
    return `json:${JSON.stringify(slim && typeof slim === 'object' && MAPPED in slim ? [obj, slim[MAPPED]] : obj)}`;
  } catch {
    return '';
  }
}
