/**
 * The leader-side runtime of the trivy plugin: one IngesterRun per trivy Ingester while this replica leads. The host
 * starts, restarts and stops the runs (`api.leaderWork`, plugin API 1.2.0) and retries scopes whose writes were
 * dropped; this file holds only what is Trivy's.
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
 * - Kinds whose CRD is not served are logged and skipped, and checked again every `crdRecheckMs` by the host
 *   (`run.whenServed`: Trivy Operator may be installed later). Failed or partly dropped reconciles are retried by
 *   the host (`run.reconcile`) while the run lasts.
 * - Everything stops when the run's signal aborts: end of the term, the Ingester changed (the host starts a new
 *   run) or went away.
 *
 * Informer partitions: when WATCH_NAMESPACE lists namespaces and the Ingester sets no namespace, the host would fan
 * one informer out to every namespace with the SAME callbacks, so each `synced` would carry one namespace's objects
 * only and look like everything else vanished. The run therefore opens one informer per watched namespace itself,
 * each with its own state (a partition), and treats each `synced` as complete for its partition only.
 */
import { createHash } from 'node:crypto';
import {
  DraftStash,
  errorText,
  type IngesterRun,
  type IngesterView,
  ingesterKey,
  type ObservationDraft,
  type PluginApi,
  type PluginLogger,
  RetryBackoff,
} from 'zen-watcher/plugin-api';
import type { TrivyConfig } from './config.ts';
import { GROUP, type ReportKind, reportKind, VERSION } from './kinds.ts';
import { type MapOutcome, mapReport, text } from './map.ts';

export interface ControllerOptions {
  /** The host's WATCH_NAMESPACE list (empty = all namespaces). */
  watchNamespaces?: readonly string[];
  /** How often kinds whose CRD is not served (or discovery failed) are checked again. Default 60 000. */
  crdRecheckMs?: number;
  /**
   * Findings (drafts) held between an informer event and the reconcile that uses them, at most, per run. A report
   * over this budget (typically during a list of thousands) keeps only its identity and signature and is read
   * again (`api.kube.get`) when its scope is reconciled. Default 5 000.
   */
  draftBudget?: number;
}

type Counter = ReturnType<PluginApi['metrics']['counter']>;

interface Metrics {
  findingsSkipped: Counter;
  reportsSkipped: Counter;
  kindsSkipped: Counter;
  handlerErrors: Counter;
}

interface Member {
  readonly p: Partition;
  readonly key: string;
  readonly sig: string;
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
  return h.digest('base64');
}

export class TrivyController {
  readonly #api: PluginApi<TrivyConfig>;
  readonly #log: PluginLogger;
  readonly #opts: Required<ControllerOptions>;
  readonly #metrics: Metrics;
  readonly #runs = new Map<string, TrivyRun>();

  constructor(api: PluginApi<TrivyConfig>, opts: ControllerOptions = {}) {
    this.#api = api;
    this.#log = api.log.child({ handler: 'trivy' });
    this.#opts = {
      watchNamespaces: opts.watchNamespaces ?? [],
      crdRecheckMs: opts.crdRecheckMs ?? 60_000,
      draftBudget: opts.draftBudget ?? 5_000,
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
      handlerErrors: m.counter(
        'trivy_handler_errors_total',
        'Unexpected errors in informer callbacks (caught; the informer goes on); event=get: reading a report again for its reconcile failed (the scope is reconciled again later).',
        ['source', 'kind', 'event'],
      ),
    };
  }

  /** Ingester keys with a running watch (tests, debugging). */
  get running(): string[] {
    return [...this.#runs.keys()];
  }

  /** In register(): the host runs one TrivyRun per trivy Ingester while this replica leads. */
  register(): void {
    this.#api.leaderWork({
      handler: 'trivy',
      start: (ingester, run) => {
        if (!this.#api.kube) {
          this.#log.warn('no Kubernetes API (standalone mode): Trivy reports are not watched');
          return;
        }
        const key = ingesterKey(ingester);
        const r = new TrivyRun(ingester, run, this.#api, this.#log, this.#metrics, this.#opts);
        this.#runs.set(key, r);
        run.signal.addEventListener('abort', () => {
          if (this.#runs.get(key) === r) this.#runs.delete(key);
          this.#log.info('stopped watching Trivy reports', { ingester: key, why: errorText(run.signal.reason) });
        });
        r.start();
      },
    });
  }
}

class TrivyRun {
  readonly #ingester: IngesterView<TrivyConfig>;
  readonly #config: TrivyConfig;
  readonly #api: PluginApi<TrivyConfig>;
  readonly #log: PluginLogger;
  readonly #metrics: Metrics;
  readonly #opts: Required<ControllerOptions>;
  readonly #run: IngesterRun;
  readonly #signal: AbortSignal;
  readonly #source: string;

  readonly #kinds = new Map<string, KindState>();
  readonly #partitions: Partition[] = [];
  /** scope → (partition id + report key) → that report (its partition, key and findings signature; no drafts). */
  readonly #members = new Map<string, Map<string, Member>>();
  /** Drafts mapped by the transform and not reconciled yet, by member, within `draftBudget` (plugin API 1.3.0). */
  readonly #fresh: DraftStash;
  /** Scopes reconciled again after a failed read of a report, 1 s doubling to 60 s (plugin API 1.3.0). */
  readonly #retry: RetryBackoff;
  /** scope → signature of the set last reconciled successfully. */
  readonly #done = new Map<string, string>();
  #chain: Promise<void> = Promise.resolve();
  readonly #queued = new Set<string>();
  readonly #warnedOverLimit = new Set<string>();

  constructor(
    ingester: IngesterView<TrivyConfig>,
    run: IngesterRun,
    api: PluginApi<TrivyConfig>,
    log: PluginLogger,
    metrics: Metrics,
    opts: Required<ControllerOptions>,
  ) {
    this.#ingester = ingester;
    this.#config = ingester.config;
    this.#api = api;
    this.#log = log.child({ ingester: ingesterKey(ingester) });
    this.#metrics = metrics;
    this.#opts = opts;
    this.#run = run;
    this.#signal = run.signal;
    this.#source = ingester.source;
    this.#fresh = new DraftStash({ budget: opts.draftBudget, signal: run.signal });
    this.#retry = new RetryBackoff({
      signal: run.signal,
      retry: (scope) => void this.#flush([scope]).catch(() => {}),
    });
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
    for (const kind of probes) void this.#discover(kind);
    // Nothing to discover (every kind skipped): nothing is live.
    if (probes.length === 0) void this.#maybeReconcileScopes();
  }

  // ---- report kinds: discovery (by the host), informers -------------------------------------------------------

  /** Waits (host-side re-checks) until the kind's CRD is served, then watches it. */
  async #discover(kind: ReportKind): Promise<void> {
    const served = await this.#run.whenServed(GROUP, VERSION, kind.resource, {
      recheckMs: this.#opts.crdRecheckMs,
      onUnavailable: (state, err) => {
        this.#kinds.set(kind.kind, state);
        if (state === 'unknown') {
          this.#metrics.kindsSkipped.inc({ source: this.#source, kind: kind.kind, reason: 'discovery_failed' });
          this.#log.warn(`discovery of ${kind.resource}.${GROUP} failed; checking again later`, {
            err: errorText(err),
          });
          return;
        }
        this.#metrics.kindsSkipped.inc({ source: this.#source, kind: kind.kind, reason: 'crd_not_served' });
        this.#log.warn(
          `${kind.resource}.${GROUP}/${VERSION} is not served (Trivy Operator CRD not installed?); ${kind.kind} skipped, checking again every ${Math.round(this.#opts.crdRecheckMs / 1000)} s`,
        );
        // An absent kind has nothing live: the other kinds' scopes may be reconciled without it.
        void this.#maybeReconcileScopes();
      },
    });
    if (!served || this.#signal.aborted) return;
    this.#kinds.set(kind.kind, 'watching');
    this.#log.info(`watching ${kind.resource}.${GROUP}`);
    this.#watch(kind);
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
              err: errorText(err),
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
            // Plugin API 1.2.0: the informer keeps the report's identity and the signature of its findings, never
            // the report (often 100 KB) nor its drafts; those wait in #fresh (bounded) or are read again.
            transform: (obj: unknown) => this.#shape(p, obj),
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
          this.#log.error(`the ${kind.kind} informer stopped`, { err: errorText(err), namespace: namespace ?? 'all' });
        });
    }
  }

  // ---- informer events ---------------------------------------------------------------------------------------

  /** The transform: maps the report, keeps its drafts in #fresh while the budget allows, returns the slim form. */
  #shape(p: Partition, obj: unknown): SlimReport {
    const slim = slimReport(obj, p.kind, this.#config);
    const out = slim[MAPPED];
    if (out.kind === 'mapped') {
      const member = `${p.id}|${out.key}`;
      if (out.drafts) this.#fresh.put(member, out.sig, out.drafts);
      else this.#fresh.drop(member);
    }
    delete (out as Partial<Slim & { drafts: unknown }>).drafts;
    return slim;
  }

  /** The slim report, from the transform when the host applied it (API ≥ 1.2.0), else shaped here. */
  #slimOf(p: Partition, obj: unknown): Slim {
    const slim = obj as Partial<SlimReport> | null;
    return slim && typeof slim === 'object' && MAPPED in slim ? slim[MAPPED]! : this.#shape(p, obj)[MAPPED];
  }

  async #upsert(p: Partition, obj: unknown): Promise<void> {
    const touched = new Set<string>();
    this.#apply(p, this.#slimOf(p, obj), touched);
    await this.#flush(touched);
  }

  async #remove(p: Partition, obj: unknown): Promise<void> {
    const key = reportKeyOf(obj, p.kind);
    const prev = key === undefined ? undefined : p.reports.get(key);
    if (key !== undefined) this.#fresh.drop(`${p.id}|${key}`);
    if (key === undefined || !prev) return;
    p.reports.delete(key);
    this.#unindex(prev.scope, `${p.id}|${key}`);
    await this.#flush(new Set([prev.scope]));
  }

  async #synced(p: Partition, objects: unknown[]): Promise<void> {
    const touched = new Set<string>();
    const seen = new Set<string>();
    for (const obj of Array.isArray(objects) ? objects : []) {
      const out = this.#slimOf(p, obj);
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
  #apply(p: Partition, out: Slim, touched: Set<string>): void {
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
    const sig = out.sig;
    if (prev && prev.scope === out.scope && prev.sig === sig) {
      // The findings did not change: nothing to reconcile, and the drafts the transform mapped are not needed.
      this.#fresh.drop(member);
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
    m.set(member, { p, key: out.key, sig });
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

  /**
   * Reconciles one scope if its findings changed since the last successful reconcile. The drafts are built here,
   * for this call only: from #fresh when the transform kept them, else by reading the report again.
   */
  async #reconcile(scope: string): Promise<void> {
    this.#queued.delete(scope);
    if (this.#signal.aborted) return;
    const lastRetryMs = this.#retry.cancel(scope);
    const members = this.#members.get(scope);
    // The scope's signature from its members' (one member: its own), so an unchanged scope costs no read.
    const sigs = [...(members?.values() ?? [])].map((m) => m.sig).sort();
    const sig = sigs.length === 1 ? sigs[0]! : createHash('sha256').update(sigs.join('\n')).digest('base64');
    if (this.#done.get(scope) === sig) return;
    const byFingerprint = new Map<string, ObservationDraft>();
    for (const [member, m] of members ?? []) {
      let drafts = this.#fresh.take(member, m.sig);
      if (!drafts) {
        const read = await this.#read(m);
        if (this.#signal.aborted) return;
        if (read === 'failed') {
          // Reconciling without this report's findings would resolve them: try again later instead.
          this.#done.delete(scope);
          this.#retry.later(scope, lastRetryMs);
          return;
        }
        drafts = read;
      }
      for (const d of drafts) if (!byFingerprint.has(d.fingerprint ?? '')) byFingerprint.set(d.fingerprint ?? '', d);
    }
    // The host retries the scope if a write was dropped or the call failed (counted and logged there).
    const written = await this.#run.reconcile(scope, [...byFingerprint.values()]);
    if (written && members) this.#done.set(scope, sig);
    else this.#done.delete(scope);
  }

  /**
   * A report's drafts, read again from the API server (its informer keeps only a signature). Gone (404): none —
   * its delete event follows. 'failed': the read failed or the report cannot be read now (counted, logged).
   */
  async #read(m: Member): Promise<ObservationDraft[] | 'failed'> {
    const slash = m.key.indexOf('/');
    const namespace = m.key.slice(0, slash);
    const name = m.key.slice(slash + 1);
    let obj: Record<string, unknown> | undefined;
    try {
      obj = await this.#api.kube!.get({
        group: GROUP,
        version: VERSION,
        resource: m.p.kind.resource,
        ...(namespace ? { namespace } : {}),
        name,
        signal: this.#signal,
      });
    } catch (err) {
      if (this.#signal.aborted) return 'failed';
      this.#metrics.handlerErrors.inc({ source: this.#source, kind: m.p.kind.kind, event: 'get' });
      this.#log.warn(`reading ${m.p.kind.kind} ${m.key} failed; its scope is reconciled again later`, {
        err: errorText(err),
      });
      return 'failed';
    }
    if (obj === undefined) return [];
    const out = mapReport(obj, m.p.kind, this.#config);
    if (out.kind === 'mapped') return out.drafts;
    if (out.kind === 'ignored') return [];
    this.#metrics.handlerErrors.inc({ source: this.#source, kind: m.p.kind.kind, event: 'get' });
    this.#log.warn(`${m.p.kind.kind} ${m.key} is unreadable now (${out.reason}); its scope is reconciled again later`);
    return 'failed';
  }

  /** After every partition of every watched kind has listed once: resolve scopes no report is in any more. */
  #maybeReconcileScopes(): Promise<void> {
    if (this.#signal.aborted) return this.#chain;
    for (const state of this.#kinds.values()) if (state === 'pending' || state === 'unknown') return this.#chain;
    if (this.#partitions.some((p) => !p.synced)) return this.#chain;
    this.#chain = this.#chain.then(async () => {
      if (this.#signal.aborted) return;
      await this.#run.reconcileScopes([...this.#members.keys()]);
    });
    return this.#chain;
  }
}

/**
 * What a report's informer keeps of it (the `transform`): its identity and the signature of its kept findings —
 * under 1 KB for a 100 KB report. The drafts themselves are dropped by the run (see TrivyRun#shape).
 */
export type Slim =
  | (Omit<Extract<MapOutcome, { kind: 'mapped' }>, 'drafts' | 'identity'> & {
      /** Signature of the drafts (fingerprints and contents): what decides whether the scope is reconciled. */
      sig: string;
      /** The drafts, until the run took them (in a slim report, never). */
      drafts?: ObservationDraft[];
    })
  | Exclude<MapOutcome, { kind: 'mapped' }>;

interface SlimReport {
  metadata: Record<string, unknown>;
  [MAPPED]: Slim;
}

const MAPPED = Symbol('trivy.mapped');

/** Maps a report (the drafts are still in the result: the run stashes or drops them). */
export function slimReport(obj: unknown, kind: ReportKind, config: TrivyConfig): SlimReport {
  const meta = (obj as { metadata?: Record<string, unknown> } | null)?.metadata;
  const metadata: Record<string, unknown> = {};
  if (meta && typeof meta === 'object') {
    for (const k of ['name', 'namespace', 'uid', 'resourceVersion'] as const) if (k in meta) metadata[k] = meta[k];
  }
  const out = mapReport(obj, kind, config);
  if (out.kind !== 'mapped') return { metadata, [MAPPED]: out };
  const { identity: _identity, ...rest } = out;
  return { metadata, [MAPPED]: { ...rest, sig: signature(out.drafts) } };
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
