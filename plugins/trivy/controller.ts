/**
 * The leader-side runtime of the trivy plugin: one IngesterRun per trivy Ingester while this replica leads.
 *
 * - A run opens one informer per enabled and served report kind (per namespace when it must, see below), maps every
 *   report (map.ts) and hands each scope's COMPLETE set of findings to `api.reconcile` (add/resolve semantics, grace
 *   period in the host). A scope = report kind + workload + container: one report's findings, the same scope when
 *   Trivy deletes and re-creates the report.
 * - Per scope it keeps the union of the findings of every report currently in it (normally exactly one) and
 *   reconciles only when that set changed, so a report re-created with the same findings, or an update that does
 *   not touch the findings, costs no API call.
 * - After every complete (re)list of EVERY kind of the run, `api.reconcileScopes` gets the live scopes of all kinds
 *   together (one kind's list must never resolve another kind's findings); findings of reports that vanished while
 *   nobody watched are resolved that way.
 * - Kinds whose CRD is not served are logged and skipped, and checked again every `crdRecheckMs` (Trivy Operator
 *   may be installed later). Failed reconciles are retried with backoff while the term lasts.
 * - Everything stops when the leader term's signal aborts, or when the Ingester changes (restart) or goes away.
 *
 * Informer partitions: when WATCH_NAMESPACE lists namespaces and the Ingester sets no namespace, the host would fan
 * one informer out to every namespace with the SAME callbacks, so each `synced` would carry one namespace's objects
 * only and look like everything else vanished. The run therefore opens one informer per watched namespace itself,
 * each with its own state (a partition), and treats each `synced` as complete for its partition only.
 */
import { createHash } from 'node:crypto';
import type {
  IngesterChange,
  IngesterView,
  LeaderTerm,
  ObservationDraft,
  PluginApi,
  PluginLogger,
} from 'zen-watcher/plugin-api';
import { resolveConfig, type TrivyConfig } from './config.ts';
import { GROUP, type ReportKind, reportKind, VERSION } from './kinds.ts';
import { type MapOutcome, mapReport, text } from './map.ts';

export interface ControllerOptions {
  /** The host's WATCH_NAMESPACE list (empty = all namespaces). */
  watchNamespaces?: readonly string[];
  /** How often kinds whose CRD is not served (or discovery failed) are checked again. Default 60 000. */
  crdRecheckMs?: number;
  /** First retry delay of a failed reconcile; doubles up to `retryMaxMs`. Defaults 1 000 / 60 000. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

type Counter = ReturnType<PluginApi['metrics']['counter']>;

interface Metrics {
  findingsSkipped: Counter;
  reportsSkipped: Counter;
  kindsSkipped: Counter;
  reconcileErrors: Counter;
  handlerErrors: Counter;
}

interface Partition {
  readonly id: string;
  readonly kind: ReportKind;
  readonly namespace: string | undefined;
  /** Report key (`ns/name`) → the scope it is in and the signature of its findings. */
  readonly reports: Map<string, { scope: string; sig: string }>;
  synced: boolean;
}

type KindState = 'pending' | 'watching' | 'absent' | 'unknown' | 'skipped';

const keyOf = (i: Pick<IngesterView, 'namespace' | 'name'>) => `${i.namespace}/${i.name}`;

/**
 * Order-independent signature of a set of drafts: their identities (fingerprints) and what they say (severity,
 * title, message, details, ...), so a re-scored CVE is reconciled again and the host updates it in place.
 */
function signature(drafts: readonly ObservationDraft[]): string {
  const h = createHash('sha256');
  const items = drafts.map((d) =>
    JSON.stringify([
      d.fingerprint ?? '',
      d.severity,
      d.category ?? '',
      d.eventType ?? '',
      d.title,
      d.message ?? '',
      d.details ?? null,
    ]),
  );
  for (const item of items.sort()) h.update(item).update('\n');
  return h.digest('hex');
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class TrivyController {
  readonly #api: PluginApi;
  readonly #log: PluginLogger;
  readonly #opts: Required<ControllerOptions>;
  readonly #metrics: Metrics;
  #term: LeaderTerm | undefined;
  readonly #runs = new Map<string, IngesterRun>();

  constructor(api: PluginApi, opts: ControllerOptions = {}) {
    this.#api = api;
    this.#log = api.log.child({ handler: 'trivy' });
    this.#opts = {
      watchNamespaces: opts.watchNamespaces ?? [],
      crdRecheckMs: opts.crdRecheckMs ?? 60_000,
      retryInitialMs: opts.retryInitialMs ?? 1_000,
      retryMaxMs: opts.retryMaxMs ?? 60_000,
    };
    const m = api.metrics;
    this.#metrics = {
      findingsSkipped: m.counter(
        'trivy_findings_skipped_total',
        'Findings in Trivy reports not turned into Observations, by reason (below_min_severity, unfixed, passed_check, no_id, duplicate_in_report, over_limit).',
        ['source', 'kind', 'reason'],
      ),
      reportsSkipped: m.counter(
        'trivy_reports_skipped_total',
        'Trivy reports not used, by reason (namespace_not_allowed; unreadable: not_an_object, no_identity, no_report_section, findings_not_a_list).',
        ['source', 'kind', 'reason'],
      ),
      kindsSkipped: m.counter(
        'trivy_report_kinds_skipped_total',
        'Report kinds enabled in config but not watched, by reason (crd_not_served, discovery_failed, cluster_scoped_with_namespace).',
        ['source', 'kind', 'reason'],
      ),
      reconcileErrors: m.counter(
        'trivy_reconcile_errors_total',
        'Failed reconcile/reconcileScopes calls (retried with backoff while leading).',
        ['source'],
      ),
      handlerErrors: m.counter(
        'trivy_handler_errors_total',
        'Unexpected errors in informer callbacks (caught; the informer goes on).',
        ['source', 'kind', 'event'],
      ),
    };
  }

  /** Ingester keys with a running watch (tests, debugging). */
  get running(): string[] {
    return [...this.#runs.keys()];
  }

  /** onBecomeLeader: start every trivy Ingester; all of it stops when the term's signal aborts. */
  becomeLeader(term: LeaderTerm): void {
    if (!this.#api.kube) {
      this.#log.warn('no Kubernetes API (standalone mode): Trivy reports are not watched');
      return;
    }
    this.#stopAll('new leader term');
    this.#term = term;
    term.signal.addEventListener(
      'abort',
      () => {
        if (this.#term !== term) return;
        this.#term = undefined;
        this.#stopAll('leader term ended');
      },
      { once: true },
    );
    for (const ingester of this.#api.ingesters()) this.#start(ingester, term);
  }

  /** onIngesterChanged while leading: start, restart or stop that Ingester's informers. */
  ingesterChanged(change: IngesterChange): void {
    const term = this.#term;
    if (!term || term.signal.aborted) return;
    if (change.previous) this.#stop(keyOf(change.previous), `Ingester ${change.type}`);
    this.#stop(keyOf(change.ingester), `Ingester ${change.type}`);
    if (change.type !== 'removed') this.#start(change.ingester, term);
  }

  #start(ingester: IngesterView, term: LeaderTerm): void {
    if (ingester.ingester !== 'informer') return;
    const run = new IngesterRun(ingester, term.signal, this.#api, this.#log, this.#metrics, this.#opts);
    this.#runs.set(keyOf(ingester), run);
    run.start();
  }

  #stop(key: string, why: string): void {
    const run = this.#runs.get(key);
    if (!run) return;
    this.#runs.delete(key);
    run.stop(why);
  }

  #stopAll(why: string): void {
    for (const key of [...this.#runs.keys()]) this.#stop(key, why);
  }
}

class IngesterRun {
  readonly #ingester: IngesterView;
  readonly #config: TrivyConfig;
  readonly #api: PluginApi;
  readonly #log: PluginLogger;
  readonly #metrics: Metrics;
  readonly #opts: Required<ControllerOptions>;
  readonly #controller = new AbortController();
  readonly #signal: AbortSignal;
  readonly #source: string;

  readonly #kinds = new Map<string, KindState>();
  readonly #partitions: Partition[] = [];
  /** scope → (partition id + report key) → that report's drafts. */
  readonly #members = new Map<string, Map<string, ObservationDraft[]>>();
  /** scope → signature of the set last reconciled successfully. */
  readonly #done = new Map<string, string>();
  #chain: Promise<void> = Promise.resolve();
  readonly #queued = new Set<string>();
  readonly #retryScopes = new Set<string>();
  #retryLive = false;
  #retryDelay: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #recheckTimer: NodeJS.Timeout | undefined;
  readonly #warnedOverLimit = new Set<string>();

  constructor(
    ingester: IngesterView,
    termSignal: AbortSignal,
    api: PluginApi,
    log: PluginLogger,
    metrics: Metrics,
    opts: Required<ControllerOptions>,
  ) {
    this.#ingester = ingester;
    this.#config = resolveConfig(ingester.config);
    this.#api = api;
    this.#log = log.child({ ingester: keyOf(ingester) });
    this.#metrics = metrics;
    this.#opts = opts;
    this.#signal = AbortSignal.any([termSignal, this.#controller.signal]);
    this.#source = ingester.source;
    this.#retryDelay = opts.retryInitialMs;
  }

  start(): void {
    const inf = this.#ingester.informer;
    if (inf?.gvr) {
      this.#log.warn('spec.informer.gvr is ignored: the trivy plugin watches the kinds in spec.config.reportKinds', {
        gvr: inf.gvr,
      });
    }
    this.#log.info('watching Trivy reports', {
      reportKinds: this.#config.reportKinds,
      ...(inf?.namespace ? { namespace: inf.namespace } : {}),
      ...(inf?.labelSelector ? { labelSelector: inf.labelSelector } : {}),
    });
    const probes: ReportKind[] = [];
    for (const name of this.#config.reportKinds) {
      const kind = reportKind(name);
      if (!kind) continue;
      if (!kind.namespaced && (inf?.namespace || this.#opts.watchNamespaces.length > 0)) {
        this.#kinds.set(kind.kind, 'skipped');
        this.#metrics.kindsSkipped.inc({
          source: this.#source,
          kind: kind.kind,
          reason: 'cluster_scoped_with_namespace',
        });
        this.#log.warn(`${kind.kind} is cluster-scoped and this watch is namespace-restricted; skipped`, {
          namespace: inf?.namespace || this.#opts.watchNamespaces.join(','),
        });
        continue;
      }
      this.#kinds.set(kind.kind, 'pending');
      probes.push(kind);
    }
    void Promise.all(probes.map((k) => this.#probe(k))).then(() => this.#afterProbes(true));
  }

  stop(why: string): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(new Error(why));
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#recheckTimer);
    this.#log.info('stopped watching Trivy reports', { why });
  }

  // ---- report kinds: discovery, informers --------------------------------------------------------------------

  /** Discovery for one kind; starts its informers once served. Resolves true when the kind's state changed. */
  async #probe(kind: ReportKind): Promise<boolean> {
    const before = this.#kinds.get(kind.kind);
    const changed = () => this.#kinds.get(kind.kind) !== before;
    let served: boolean;
    try {
      served = (await this.#api.kube?.hasResource(GROUP, VERSION, kind.resource)) ?? false;
    } catch (err) {
      if (this.#signal.aborted) return false;
      this.#kinds.set(kind.kind, 'unknown');
      if (before !== 'unknown') {
        this.#metrics.kindsSkipped.inc({ source: this.#source, kind: kind.kind, reason: 'discovery_failed' });
        this.#log.warn(`discovery of ${kind.resource}.${GROUP} failed; checking again later`, { err: errText(err) });
      }
      return changed();
    }
    if (this.#signal.aborted) return false;
    if (!served) {
      this.#kinds.set(kind.kind, 'absent');
      if (before !== 'absent') {
        this.#metrics.kindsSkipped.inc({ source: this.#source, kind: kind.kind, reason: 'crd_not_served' });
        this.#log.warn(
          `${kind.resource}.${GROUP}/${VERSION} is not served (Trivy Operator CRD not installed?); ${kind.kind} skipped, checking again every ${Math.round(this.#opts.crdRecheckMs / 1000)} s`,
        );
      }
      return changed();
    }
    this.#kinds.set(kind.kind, 'watching');
    this.#log.info(`watching ${kind.resource}.${GROUP}`);
    this.#watch(kind);
    return true;
  }

  /** After discovery: resolve scopes of kinds that turned out absent (once per change), and check again later. */
  #afterProbes(changed: boolean): void {
    if (this.#signal.aborted) return;
    if (changed) void this.#maybeReconcileScopes();
    const waiting = [...this.#kinds].filter(([, s]) => s === 'absent' || s === 'unknown').map(([k]) => k);
    if (waiting.length === 0) return;
    this.#recheckTimer = setTimeout(() => {
      this.#recheckTimer = undefined;
      if (this.#signal.aborted) return;
      const kinds = waiting.map((k) => reportKind(k)).filter((k): k is ReportKind => k !== undefined);
      void Promise.all(kinds.map((k) => this.#probe(k))).then((r) => this.#afterProbes(r.includes(true)));
    }, this.#opts.crdRecheckMs);
    this.#recheckTimer.unref?.();
  }

  #watch(kind: ReportKind): void {
    const kube = this.#api.kube;
    if (!kube) return;
    const inf = this.#ingester.informer;
    const namespaces: (string | undefined)[] = !kind.namespaced
      ? [undefined]
      : inf?.namespace
        ? [inf.namespace]
        : this.#opts.watchNamespaces.length > 0
          ? [...this.#opts.watchNamespaces]
          : [undefined];
    for (const namespace of namespaces) {
      const p: Partition = {
        id: `${kind.kind}|${namespace ?? '*'}`,
        kind,
        namespace,
        reports: new Map(),
        synced: false,
      };
      this.#partitions.push(p);
      const guard =
        <A extends unknown[]>(event: string, fn: (...a: A) => Promise<void>) =>
        async (...a: A): Promise<void> => {
          try {
            await fn(...a);
          } catch (err) {
            if (this.#signal.aborted) return;
            this.#metrics.handlerErrors.inc({ source: this.#source, kind: kind.kind, event });
            this.#log.error(`unexpected error handling ${kind.kind} ${event}; the watch goes on`, {
              err: errText(err),
            });
          }
        };
      kube
        .informer(
          {
            group: GROUP,
            version: VERSION,
            resource: kind.resource,
            ...(namespace ? { namespace } : {}),
            ...(inf?.labelSelector ? { labelSelector: inf.labelSelector } : {}),
            ...(inf?.fieldSelector ? { fieldSelector: inf.fieldSelector } : {}),
            signal: this.#signal,
            // Plugin API 1.2.0: the informer keeps the mapped findings, never the report (often 100 KB each).
            transform: (obj: unknown) => slimReport(obj, kind, this.#config),
          },
          {
            add: guard('add', (obj: unknown) => this.#upsert(p, obj)),
            update: guard('update', (obj: unknown) => this.#upsert(p, obj)),
            delete: guard('delete', (obj: unknown) => this.#remove(p, obj)),
            synced: guard('synced', (objects: unknown[]) => this.#synced(p, objects)),
          },
        )
        .catch((err: unknown) => {
          if (this.#signal.aborted) return;
          this.#log.error(`the ${kind.kind} informer stopped`, { err: errText(err), namespace: namespace ?? 'all' });
        });
    }
  }

  // ---- informer events ---------------------------------------------------------------------------------------

  async #upsert(p: Partition, obj: unknown): Promise<void> {
    const touched = new Set<string>();
    this.#apply(p, mappedOf(obj, p.kind, this.#config), touched);
    await this.#flush(touched);
  }

  async #remove(p: Partition, obj: unknown): Promise<void> {
    const key = reportKeyOf(obj, p.kind);
    const prev = key === undefined ? undefined : p.reports.get(key);
    if (key === undefined || !prev) return;
    p.reports.delete(key);
    this.#unindex(prev.scope, `${p.id}|${key}`);
    await this.#flush(new Set([prev.scope]));
  }

  async #synced(p: Partition, objects: unknown[]): Promise<void> {
    const touched = new Set<string>();
    const seen = new Set<string>();
    for (const obj of Array.isArray(objects) ? objects : []) {
      const out = mappedOf(obj, p.kind, this.#config);
      if (out.key !== undefined) seen.add(out.key);
      this.#apply(p, out, touched);
    }
    for (const [key, prev] of [...p.reports]) {
      if (seen.has(key)) continue;
      p.reports.delete(key);
      this.#unindex(prev.scope, `${p.id}|${key}`);
      touched.add(prev.scope);
    }
    p.synced = true;
    await this.#flush(touched);
    await this.#maybeReconcileScopes();
  }

  /** Records one mapped report in the partition and the scope index; adds the scopes whose set may have changed. */
  #apply(p: Partition, out: MapOutcome, touched: Set<string>): void {
    const kind = p.kind.kind;
    if (out.kind === 'unusable') {
      // Keep what we had for this report: findings are not resolved because of an object we cannot read.
      this.#metrics.reportsSkipped.inc({ source: this.#source, kind, reason: out.reason });
      this.#log.debug(`unreadable ${kind} ignored`, { report: out.key, reason: out.reason });
      return;
    }
    const prev = p.reports.get(out.key);
    const member = `${p.id}|${out.key}`;
    if (out.kind === 'ignored') {
      if (prev) {
        p.reports.delete(out.key);
        this.#unindex(prev.scope, member);
        touched.add(prev.scope);
        this.#metrics.reportsSkipped.inc({ source: this.#source, kind, reason: out.reason });
      }
      return;
    }
    const sig = signature(out.drafts);
    if (prev && prev.scope === out.scope && prev.sig === sig) {
      // The findings did not change. Hold the new (equal) drafts, so the informer's copy and ours are one.
      this.#members.get(out.scope)?.set(member, out.drafts);
      return;
    }
    for (const [reason, n] of Object.entries(out.skipped)) {
      this.#metrics.findingsSkipped.inc({ source: this.#source, kind, reason }, n);
    }
    if (out.skipped.over_limit && !this.#warnedOverLimit.has(out.key)) {
      this.#warnedOverLimit.add(out.key);
      this.#log.warn(`${kind} ${out.key} has more findings than maxFindingsPerReport; the least severe are left out`, {
        maxFindingsPerReport: this.#config.maxFindingsPerReport,
        leftOut: out.skipped.over_limit,
      });
    }
    if (prev && prev.scope !== out.scope) {
      this.#unindex(prev.scope, member);
      touched.add(prev.scope);
    }
    p.reports.set(out.key, { scope: out.scope, sig });
    let m = this.#members.get(out.scope);
    if (!m) {
      m = new Map();
      this.#members.set(out.scope, m);
    }
    m.set(member, out.drafts);
    touched.add(out.scope);
  }

  #unindex(scope: string, member: string): void {
    const m = this.#members.get(scope);
    if (!m) return;
    m.delete(member);
    if (m.size === 0) this.#members.delete(scope);
  }

  // ---- reconciliation (serialized per run) ---------------------------------------------------------------------

  #flush(scopes: Iterable<string>): Promise<void> {
    for (const scope of scopes) {
      if (this.#queued.has(scope)) continue;
      this.#queued.add(scope);
      this.#chain = this.#chain.then(() => this.#reconcile(scope));
    }
    return this.#chain;
  }

  async #reconcile(scope: string): Promise<void> {
    this.#queued.delete(scope);
    if (this.#signal.aborted) return;
    const members = this.#members.get(scope);
    const byFingerprint = new Map<string, ObservationDraft>();
    for (const drafts of members?.values() ?? []) {
      for (const d of drafts) if (!byFingerprint.has(d.fingerprint ?? '')) byFingerprint.set(d.fingerprint ?? '', d);
    }
    const drafts = [...byFingerprint.values()];
    const sig = signature(drafts);
    if (this.#done.get(scope) === sig && !this.#retryScopes.has(scope)) return;
    try {
      const r = await this.#api.reconcile(this.#ingester, scope, drafts, { signal: this.#signal });
      if (r.dropped > 0 && !this.#signal.aborted) {
        // A write failed for good (counted and logged by the host): the scope is not done; retry it with backoff.
        this.#retryScopes.add(scope);
        this.#log.warn('some findings were not written; retrying the scope', {
          scope,
          dropped: r.dropped,
          retryInMs: this.#retryDelay,
        });
        this.#armRetry();
        return;
      }
      if (members) this.#done.set(scope, sig);
      else this.#done.delete(scope);
      this.#retryScopes.delete(scope);
      this.#retrySucceeded();
      if (r.created || r.resolved || r.missing || r.reactivated || r.dropped) {
        this.#log.debug('reconciled', { scope, findings: drafts.length, ...r });
      }
    } catch (err) {
      if (this.#signal.aborted) return;
      this.#retryScopes.add(scope);
      this.#metrics.reconcileErrors.inc({ source: this.#source });
      this.#log.warn('reconcile failed; retrying', { scope, err: errText(err), retryInMs: this.#retryDelay });
      this.#armRetry();
    }
  }

  /** After every partition of every watched kind has listed once: resolve scopes no report is in any more. */
  #maybeReconcileScopes(): Promise<void> {
    if (this.#signal.aborted) return this.#chain;
    for (const state of this.#kinds.values()) if (state === 'pending' || state === 'unknown') return this.#chain;
    if (this.#partitions.some((p) => !p.synced)) return this.#chain;
    this.#chain = this.#chain.then(async () => {
      if (this.#signal.aborted) return;
      try {
        await this.#api.reconcileScopes(this.#ingester, [...this.#members.keys()], { signal: this.#signal });
        this.#retryLive = false;
        this.#retrySucceeded();
      } catch (err) {
        if (this.#signal.aborted) return;
        this.#retryLive = true;
        this.#metrics.reconcileErrors.inc({ source: this.#source });
        this.#log.warn('reconciling the live scopes failed; retrying', {
          err: errText(err),
          retryInMs: this.#retryDelay,
        });
        this.#armRetry();
      }
    });
    return this.#chain;
  }

  #armRetry(): void {
    if (this.#retryTimer || this.#signal.aborted) return;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.#opts.retryMaxMs);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#signal.aborted) return;
      void this.#flush([...this.#retryScopes]);
      if (this.#retryLive) void this.#maybeReconcileScopes();
    }, delay);
    this.#retryTimer.unref?.();
  }

  #retrySucceeded(): void {
    if (this.#retryScopes.size === 0 && !this.#retryLive) this.#retryDelay = this.#opts.retryInitialMs;
  }
}

/** What a report's informer keeps of it (the `transform`): its identity and its mapped findings. */
interface SlimReport {
  metadata: Record<string, unknown>;
  [MAPPED]: MapOutcome;
}

const MAPPED = Symbol('trivy.mapped');

export function slimReport(obj: unknown, kind: ReportKind, config: TrivyConfig): SlimReport {
  const meta = (obj as { metadata?: Record<string, unknown> } | null)?.metadata;
  const metadata: Record<string, unknown> = {};
  if (meta && typeof meta === 'object') {
    for (const k of ['name', 'namespace', 'uid', 'resourceVersion'] as const) if (k in meta) metadata[k] = meta[k];
  }
  return { metadata, [MAPPED]: mapReport(obj, kind, config) };
}

/** The mapped report: from the transform when the host applied it (API ≥ 1.2.0), else mapped here. */
function mappedOf(obj: unknown, kind: ReportKind, config: TrivyConfig): MapOutcome {
  const slim = obj as Partial<SlimReport> | null;
  return slim && typeof slim === 'object' && MAPPED in slim ? slim[MAPPED]! : mapReport(obj, kind, config);
}

/** `<namespace>/<name>` of a report object as mapReport computes it; undefined without a name. */
export function reportKeyOf(obj: unknown, kind: ReportKind): string | undefined {
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const meta = (obj as { metadata?: unknown }).metadata;
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) return undefined;
  const m = meta as Record<string, unknown>;
  const name = text(m.name, 253);
  if (!name) return undefined;
  return `${kind.namespaced ? (text(m.namespace, 63) ?? '') : ''}/${name}`;
}
