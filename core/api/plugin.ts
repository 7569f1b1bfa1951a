/**
 * The plugin contract (DESIGN §4): `definePlugin({ name, version, register(api) })`, and the narrowed facade
 * handed to `register`. Plugins may tap hooks, never call them; the facade fills in the tap name.
 */

import type { DeliveryRequest, DeliveryResult } from './destination.ts';
import { ZwError } from './errors.ts';
import type {
  DraftContext,
  IngesterChange,
  LeaderTerm,
  StartContext,
  StopContext,
  WebhookRequest,
  WebhookResult,
} from './hooks.ts';
import type { AnyConfig, IngesterView, ObservationDraft, Severity } from './types.ts';

export interface TapOptions {
  /** Lower stages run first (tapable `stage`). Default 0. */
  stage?: number;
}

/** A hook as a plugin sees it: it can add a function, nothing else. */
export interface Tappable<Args extends unknown[], R = void> {
  tapPromise(fn: (...args: Args) => Promise<R>, options?: TapOptions): void;
}

export interface PluginHooks<Config = AnyConfig> {
  onStart: Tappable<[StartContext]>;
  onBecomeLeader: Tappable<[LeaderTerm]>;
  onLoseLeadership: Tappable<[LeaderTerm]>;
  /** Keyed by source handler; a plugin may tap only the handlers its manifest lists in `sources`. */
  onWebhook: { for(handler: string): Tappable<[WebhookRequest<Config>], WebhookResult> };
  onIngesterChanged: Tappable<[IngesterChange<Config>]>;
  onObservation: Tappable<[ObservationDraft, DraftContext], ObservationDraft>;
  onStop: Tappable<[StopContext]>;
  /**
   * Keyed by destination type; a plugin may tap only the types its manifest lists in `destinations`. Runs where
   * delivery runs (the leader). Since plugin API 1.2.0.
   */
  onDeliver: { for(type: string): Tappable<[DeliveryRequest<Config>], DeliveryResult> };
}

export interface PluginLogger {
  debug(msg: string, meta?: object): void;
  info(msg: string, meta?: object): void;
  warn(msg: string, meta?: object): void;
  error(msg: string, meta?: object): void;
  child(meta: object): PluginLogger;
}

/** Metrics scoped to the plugin: names get the `zen_watcher_plugin_` prefix and a `plugin` label. */
export interface PluginMetrics {
  counter(
    name: string,
    help: string,
    labelNames?: readonly string[],
  ): { inc(labels?: Record<string, string>, n?: number): void };
  gauge(
    name: string,
    help: string,
    labelNames?: readonly string[],
  ): { set(value: number, labels?: Record<string, string>): void };
}

export interface EmitResult {
  created: number;
  duplicates: number;
  filtered: number;
  dropped: number;
}

export interface ReconcileResult extends EmitResult {
  /** Observations of the scope now missing from the set (they resolve when the grace period has passed). */
  missing: number;
  /** Observations resolved by this call (their grace period had passed). */
  resolved: number;
  /** Resolved Observations whose finding is back: set Active again. */
  reactivated: number;
}

/** A watch over one resource type, kept alive by the host (restarts with backoff, relists on 410 Gone). */
export interface InformerEvents<T> {
  /** Called for every object present at (re)list, and for later adds. */
  add?(obj: T): void | Promise<void>;
  update?(obj: T, old: T | undefined): void | Promise<void>;
  delete?(obj: T): void | Promise<void>;
  /** After each complete (re)list, with every object currently present. */
  synced?(objects: T[]): void | Promise<void>;
}

export interface InformerOptions {
  group: string;
  version: string;
  /** Plural resource name, e.g. `vulnerabilityreports`. */
  resource: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Stops the informer when aborted; pass the leader term's signal. */
  signal: AbortSignal;
  /**
   * Keep only what you use (client-go's SetTransform). Called on every object as it arrives — each item of each
   * list page, each watch event — before the informer stores it and before any callback sees it; the informer then
   * holds and hands over what it returns, never the whole object, so a watch of many large reports costs memory
   * for what the plugin reconciles (identity, finding keys), not for the reports. The host keeps `metadata.name`,
   * `namespace`, `uid` and `resourceVersion` on the result (it diffs and keys by them) when it is an object without
   * them. A transform that throws drops that object (counted in `zen_watcher_informer_transform_errors_total` and
   * logged) as if it did not exist. Since plugin API 1.2.0.
   */
  transform?: (obj: unknown) => unknown;
}

/** Read-only Kubernetes access for plugins. Absent (undefined) in standalone mode. */
/** What `PluginKube.get` reads (plugin API 1.2.0). */
export interface GetOptions {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Plural resource name. */
  resource: string;
  /** For a namespaced resource. */
  namespace?: string;
  name: string;
  signal?: AbortSignal;
}

export interface PluginKube {
  informer<T = Record<string, unknown>>(options: InformerOptions, events: InformerEvents<T>): Promise<void>;
  /** Whether the API server serves this group/version/resource (discovery, re-checked on each call). */
  hasResource(group: string, version: string, resource: string): Promise<boolean>;
  /**
   * Reads one object (GET); undefined when it does not exist (404). Other failures reject. With `WATCH_NAMESPACE`
   * set, a namespace outside it rejects (ZW_ERR_NAMESPACE_NOT_WATCHED). Meant for an informer whose `transform`
   * keeps only what decides whether to reconcile (identity, a hash of the findings): the reconcile reads the whole
   * object when it needs it, and lets it go afterwards. Since plugin API 1.2.0.
   */
  get(options: GetOptions): Promise<Record<string, unknown> | undefined>;
  /**
   * The namespaces this host is restricted to (`WATCH_NAMESPACE`); empty = every namespace. An informer without
   * `namespace` runs in each of these; a cluster-scoped resource can be watched cluster-wide only when RBAC allows,
   * which a namespace-restricted install usually does not. Since plugin API 1.1.0.
   */
  readonly watchNamespaces: readonly string[];
}

/**
 * Leader work for one Ingester, run by the host (plugin API 1.2.0; see `PluginApi.leaderWork`). Everything the
 * work starts must stop when `signal` aborts.
 */
export interface IngesterRun {
  /**
   * Aborts when this run ends: the leader term ended (or this replica stops), or the Ingester was updated (a new
   * run starts with the new spec) or removed.
   */
  readonly signal: AbortSignal;
  readonly term: LeaderTerm;
  /**
   * `api.reconcile` for this Ingester under this run's signal, plus the host's retry: when a write of the scope was
   * dropped for good or the call failed, the host keeps these drafts and reconciles the scope again with backoff
   * (1 s doubling to 60 s) until it succeeds, the plugin reconciles the scope again itself (newer drafts win), or
   * the run ends. Calls of one run are serialized. Resolves true when the scope is written, false when it is left
   * to the retry (or the run ended); never rejects.
   */
  reconcile(scope: string, drafts: ObservationDraft[]): Promise<boolean>;
  /** `api.reconcileScopes` for this Ingester, with the same retry (the latest `liveScopes` win) and result. */
  reconcileScopes(liveScopes: readonly string[]): Promise<boolean>;
  /**
   * CRD discovery for this run: resolves true once the API server serves `group/version/resource`, checking again
   * every `recheckMs` (default 60 000) while it does not — Trivy Operator or Kyverno may be installed after
   * zen-watcher — or false when the run ends first (or in standalone mode). `onUnavailable` is called when the
   * state changes to `absent` (not served) or `unknown` (discovery failed), not on every check.
   */
  whenServed(
    group: string,
    version: string,
    resource: string,
    options?: { recheckMs?: number; onUnavailable?(state: 'absent' | 'unknown', err?: unknown): void },
  ): Promise<boolean>;
}

/** Per-Ingester leader work (plugin API 1.2.0): what `PluginApi.leaderWork` takes. */
export interface IngesterWork<Config = AnyConfig> {
  /** Only Ingesters of this source handler (one of the manifest's `sources`). Default: every handler of the plugin. */
  handler?: string;
  /** Only Ingesters of this type. Default `informer`. */
  ingester?: 'informer' | 'webhook' | 'any';
  /**
   * Starts the work for one Ingester while this replica leads: for every Ingester when the term starts, for an
   * Ingester added during the term, and again for an updated one (after the previous run's signal aborted). A
   * throw or rejection is logged and counted (`zen_watcher_leader_work_errors_total`); that run stays stopped
   * until the Ingester changes or the next term.
   */
  start(ingester: IngesterView<Config>, run: IngesterRun): void | Promise<void>;
}

export interface PluginApi<Config = AnyConfig> {
  readonly name: string;
  /** The plugin's version: its package.json `version` (the only place it is kept). */
  readonly version: string;
  /** The host's plugin-API version (semver). */
  readonly hostApiVersion: string;
  readonly hooks: PluginHooks<Config>;
  readonly log: PluginLogger;
  readonly metrics: PluginMetrics;
  readonly kube: PluginKube | undefined;
  /** The Ingesters currently bound to this plugin's source handlers (valid ones only). */
  ingesters(handler?: string): IngesterView<Config>[];
  /**
   * Send drafts for an Ingester through the pipeline (informer sources). Resolves once they are written or
   * dropped with a counted reason. Leader-only sources should pass the leader term's signal.
   */
  emit(
    ingester: IngesterView<Config>,
    drafts: ObservationDraft[],
    options?: { signal?: AbortSignal },
  ): Promise<EmitResult>;
  /**
   * Informer sources: the COMPLETE current set of findings of one `scope` of an Ingester (a scope is whatever
   * unit the source reports in: one report, keyed by the workload it is about — not by the report's uid, so a
   * deleted and re-created report is the same scope). New findings are written; Observations of the scope whose
   * finding is no longer in the set are resolved (`status.phase: Resolved`) once they have been missing for the
   * grace period (ZEN_RESOLVE_AFTER_SECONDS, default 600), so a report deleted and re-created with the same
   * findings changes nothing; a resolved finding that comes back is set Active again. Pass `[]` when the scope is
   * gone (report deleted for good). Leader only: pass the term's signal.
   */
  reconcile(
    ingester: IngesterView<Config>,
    scope: string,
    drafts: ObservationDraft[],
    options?: { signal?: AbortSignal },
  ): Promise<ReconcileResult>;
  /**
   * After a complete (re)list: every scope of this Ingester that is not in `liveScopes` is reconciled to `[]`
   * (its findings start their grace period). Lets a new leader resolve findings whose report vanished while no
   * replica was watching.
   */
  reconcileScopes(
    ingester: IngesterView<Config>,
    liveScopes: readonly string[],
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Declare per-Ingester leader work (plugin API 1.2.0), in `register`: the host starts it on the leader for each
   * matching Ingester, restarts it when the Ingester changes, stops it when the Ingester goes or the term ends,
   * and retries scopes whose writes were dropped (`IngesterRun`). Replaces hand-written bookkeeping on
   * `onBecomeLeader` / `onIngesterChanged`. Absent on hosts older than 1.2.0: declare `"hostApi": "^1.2.0"`.
   */
  leaderWork(work: IngesterWork<Config>): void;
  /** Build the typed error for a payload this source cannot use (HTTP 422, or 400). */
  payloadError(message: string, field?: string, status?: 400 | 422): ZwError;
  /** The host's severity normalization (aliases such as CRITICAL, warning, error); undefined if unknown. */
  severityOf(value: unknown): Severity | undefined;
}

export interface PluginSpec<Config = AnyConfig> {
  /** kebab-case, unique among loaded plugins; must equal the manifest's package name without scope. */
  name: string;
  /**
   * @deprecated since 1.2.0: the version is read from the plugin's package.json (`api.version`); omit it. When
   * given it must be a non-empty string and is otherwise ignored.
   */
  version?: string;
  /** Called once, synchronously or async, at load. Only record taps here; start work in hooks. */
  register(api: PluginApi<Config>): void | Promise<void>;
}

export interface ZenPlugin {
  readonly name: string;
  /** @deprecated see PluginSpec.version */
  readonly version?: string;
  // biome-ignore lint/suspicious/noExplicitAny: the host passes the untyped API; Config is the plugin's own view
  readonly register: (api: PluginApi<any>) => void | Promise<void>;
  readonly $$type: 'zen-watcher.plugin';
  readonly apiVersion: 1;
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Define a plugin: validates the spec and returns a branded, frozen object for the loader. `Config` types
 * `ingester.config` everywhere the API hands out an Ingester (webhook requests, `api.ingesters()`, changes); the
 * host validates it against the manifest's `configSchema` and applies the schema's defaults before any tap sees it,
 * so declare fields with a `default` as required. Since 1.2.0 (`version` optional, `Config`).
 */
export function definePlugin<Config = AnyConfig>(spec: PluginSpec<Config>): ZenPlugin {
  if (typeof spec?.name !== 'string' || !NAME_PATTERN.test(spec.name)) {
    throw new ZwError(
      'ZW_ERR_PLUGIN_SHAPE',
      `definePlugin: name must match ${NAME_PATTERN} (kebab-case), got ${JSON.stringify(spec?.name)}`,
    );
  }
  if (spec.version !== undefined && (typeof spec.version !== 'string' || spec.version.length === 0)) {
    throw new ZwError('ZW_ERR_PLUGIN_SHAPE', `definePlugin: plugin '${spec.name}' needs a version string`);
  }
  if (typeof spec.register !== 'function') {
    throw new ZwError('ZW_ERR_PLUGIN_SHAPE', `definePlugin: plugin '${spec.name}' needs a register(api) function`);
  }
  return Object.freeze({ ...spec, $$type: 'zen-watcher.plugin', apiVersion: 1 }) as ZenPlugin;
}

export function isZenPlugin(value: unknown): value is ZenPlugin {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { $$type?: unknown }).$$type === 'zen-watcher.plugin' &&
    typeof (value as { register?: unknown }).register === 'function'
  );
}
