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
  onDeliver: { for(type: string): Tappable<[DeliveryRequest], DeliveryResult> };
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
}

/** Read-only Kubernetes access for plugins. Absent (undefined) in standalone mode. */
export interface PluginKube {
  informer<T = Record<string, unknown>>(options: InformerOptions, events: InformerEvents<T>): Promise<void>;
  /** Whether the API server serves this group/version/resource (discovery, re-checked on each call). */
  hasResource(group: string, version: string, resource: string): Promise<boolean>;
  /**
   * The namespaces this host is restricted to (`WATCH_NAMESPACE`); empty = every namespace. An informer without
   * `namespace` runs in each of these; a cluster-scoped resource can be watched cluster-wide only when RBAC allows,
   * which a namespace-restricted install usually does not. Since plugin API 1.1.0.
   */
  readonly watchNamespaces: readonly string[];
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
