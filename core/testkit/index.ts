/**
 * The plugin test kit (public for plugin authors; import it as `zen-watcher/testkit`): load one plugin directory
 * with the real loader, hooks, pipeline and resolver, then
 *   - webhook sources: run its onWebhook tap on a payload and get the drafts, or the Observations written;
 *   - informer sources: start a leader term, feed the informers it opened with objects (add/update/delete/relist),
 *     and read the Observations with their phase (Active/Resolved);
 * with no cluster and no HTTP server. Observations live in memory; resolution uses a grace period of 0 unless set.
 */

import type { ValidateFunction } from 'ajv';
import type {
  DeliveredObservation,
  DeliveryEvent,
  DeliveryItem,
  DeliveryResult,
  InformerEvents,
  InformerOptions,
  LeaderTerm,
  Observation,
  ObservationDraft,
  PluginApi,
  PluginKube,
} from '../api/index.ts';
import { ZwError, zwError } from '../api/index.ts';
import { readEnv, testkitLogLevel } from '../config/env.ts';
import { ajvErrorsToFieldErrors, createAjv, type IngesterConfig, type ValidationResult } from '../config/validate.ts';
import { idempotencyKey } from '../destinations/state.ts';
import { type DestinationValidation, DestinationValidator, destinationTypeTable } from '../destinations/validate.ts';
import { destinationView } from '../destinations/view.ts';
import type { TapFailure } from '../hooks/guard.ts';
import { createHostCore } from '../host/core.ts';
import { decisions, type StatusDecision } from '../host/fenced-status.ts';
import { registerLeaderWork } from '../host/leader-work.ts';
import { type IndexedObservation, type ObservationIndex, SCOPE_LABEL } from '../host/observation-index.ts';
import { pluginTransform } from '../host/plugin-informer.ts';
import type { PluginRecord } from '../loader/index.ts';
import type { CompiledIngester, ProcessResult } from '../pipeline/pipeline.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';

export interface IngesterInput {
  name?: string;
  namespace?: string;
  source?: string;
  handler?: string;
  ingester?: 'webhook' | 'informer';
  /** Extra spec fields (filters, deduplication, informer, ...), merged into the generated Ingester. */
  spec?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface KitObservation extends Observation {
  phase: 'Active' | 'Resolved';
  /** The stored status, as in Kubernetes (plugin API 1.2.0): counts, resolution, re-opening. */
  status?: {
    phase?: string;
    count?: number;
    firstSeen?: string;
    lastSeen?: string;
    resolvedAt?: string;
    reason?: string;
    [k: string]: unknown;
  };
}

/** One informer the plugin opened through api.kube.informer(). */
export interface FakeInformer {
  options: Omit<InformerOptions, 'signal'>;
  signal: AbortSignal;
  events: InformerEvents<Record<string, unknown>>;
}

/** A Destination for a destination plugin under test (a `kind: Destination` document is built from it). */
export interface DestinationInput {
  name?: string;
  namespace?: string;
  /** Default: the plugin's first `destinations` entry. */
  type?: string;
  url?: string;
  headers?: Record<string, string>;
  config?: Record<string, unknown>;
  /** The credentials `destination.secret(key)` returns (key → value). */
  secrets?: Record<string, string>;
  /** Extra spec fields (delivery, ...). */
  spec?: Record<string, unknown>;
}

export interface TestPlugin {
  readonly record: PluginRecord;
  /** Destination plugins: validate a `kind: Destination` document against the schema and this plugin's configSchema. */
  validateDestination(doc: unknown): DestinationValidation;
  /**
   * Destination plugins: run the onDeliver tap once, as the host does, for these Observations (written ones, e.g.
   * from process()/webhook(), or KitObservations) and return what it returned. A plugin error is thrown as is.
   */
  deliver(
    observations: readonly (Observation & { phase?: 'Active' | 'Resolved'; resolvedAt?: string })[],
    input?: DestinationInput & { event?: DeliveryEvent; attempt?: number },
  ): Promise<DeliveryResult>;
  validateIngester(doc: unknown): ValidationResult;
  /** Build (and register with the kit) a valid Ingester for this plugin; throws with the field errors if invalid. */
  ingester(input?: IngesterInput): IngesterConfig;
  webhookDrafts(
    body: unknown,
    input?: IngesterInput & {
      rawBody?: Buffer;
      headers?: Record<string, string>;
      jsonLines?: boolean;
      contentType?: string;
    },
  ): Promise<ObservationDraft[]>;
  process(
    drafts: ObservationDraft[],
    input?: IngesterInput,
  ): Promise<{ result: ProcessResult; observations: Observation[] }>;
  webhook(
    body: unknown,
    input?: IngesterInput & { jsonLines?: boolean },
  ): Promise<{ result: ProcessResult; observations: Observation[] }>;

  /** Informer sources: make this replica leader (runs onBecomeLeader) for the Ingesters built so far. */
  startLeading(): Promise<LeaderTerm>;
  /** End the term (aborts its signal, runs onLoseLeadership). */
  stopLeading(): Promise<void>;
  /** The informers the plugin has open (not aborted), optionally for one resource. */
  informers(resource?: string): FakeInformer[];
  /** Deliver events to the open informers of `resource` (plural, e.g. vulnerabilityreports); waits for the handlers. */
  add(resource: string, obj: Record<string, unknown>): Promise<void>;
  update(resource: string, obj: Record<string, unknown>, old?: Record<string, unknown>): Promise<void>;
  remove(resource: string, obj: Record<string, unknown>): Promise<void>;
  /** A complete (re)list, as the real informer delivers it: add new, update changed, delete vanished, then `synced`. */
  relist(resource: string, objects: Record<string, unknown>[]): Promise<void>;
  /** How many objects the plugin read with `api.kube.get` so far (plugin API 1.2.0). */
  gets(): number;
  /** Resources the fake API server serves (for api.kube.hasResource); all by default. */
  serve(resources: string[] | 'all'): void;
  /** Resolve findings whose grace period has passed (the leader's periodic tick). */
  tick(): Promise<number>;
  /** Wait until the plugin's pending async work settles (a few macrotask turns). */
  settle(): Promise<void>;

  /**
   * Taps that failed (threw or passed their deadline) so far, as the host counts them in
   * zen_watcher_plugin_hook_errors_total: isolated, so the call that ran the hook did not fail (onWebhook aside).
   */
  failures(): TapFailure[];
  /** The host metrics of this kit instance, in the Prometheus text format. */
  metrics(): Promise<string>;

  observations(): KitObservation[];
  close(): Promise<void>;
}

export interface LoadTestPluginOptions {
  now?: () => number;
  resolveGraceMs?: number;
  /** What `api.kube.watchNamespaces` says (the host's WATCH_NAMESPACE); default [] = every namespace. */
  watchNamespaces?: readonly string[];
  /**
   * Host settings as the host reads them from its environment (`ZEN_HOOK_TIMEOUT_SECONDS`, `ZEN_MAX_QUEUE`, ...;
   * docs/CONFIGURATION.md); default: none set, i.e. the host's defaults. The process environment is not read.
   */
  env?: Readonly<Record<string, string>>;
  /** Log level of the host's logs; default `ZEN_TESTKIT_LOG` or `silent`. */
  logLevel?: string;
  /** `api.leaderWork` retry and CRD re-check timing (plugin API 1.2.0); defaults 1 s → 60 s and 60 s. */
  leaderWork?: { retryInitialMs?: number; retryMaxMs?: number; recheckMs?: number };
}

export async function loadTestPlugin(dir: string, opts: LoadTestPluginOptions = {}): Promise<TestPlugin> {
  const env = readEnv({
    ...opts.env,
    ...(opts.watchNamespaces ? { WATCH_NAMESPACE: opts.watchNamespaces.join(',') } : {}),
  });
  const log = createLogger({ level: opts.logLevel ?? testkitLogLevel() });
  const store = new SqliteStore(':memory:');
  const now = opts.now ?? Date.now;
  const failures: TapFailure[] = [];
  const metrics = createMetrics();

  // In-memory Observation index for the real resolver: the phase is the store's status.phase (the resolver's
  // setPhase and a webhook source's resolution both write it there, as both write status.phase in Kubernetes).
  const all = (): KitObservation[] =>
    store
      .list({ limit: 1_000_000 })
      .map(({ createdAt: _c, ...o }) => ({ ...o, phase: o.status?.phase === 'Resolved' ? 'Resolved' : 'Active' }));
  const toIndexed = (o: KitObservation): IndexedObservation => {
    const since = Date.parse(String(o.status?.missingSince ?? ''));
    return {
      name: o.name,
      namespace: o.namespace,
      phase: o.phase,
      scope: o.labels[SCOPE_LABEL] ?? '',
      ...(Number.isFinite(since) ? { missingSince: since } : {}),
    };
  };
  // The host's own decisions (core/host/fenced-status.ts), applied to the store's document: one process, no
  // resourceVersions to fence with, but the same rules for when a phase or a clock is written.
  const write = (o: IndexedObservation, decide: StatusDecision, canAct: () => boolean) => {
    if (!canAct()) return 'fenced' as const;
    const cur = all().find((x) => x.namespace === o.namespace && x.name === o.name);
    if (!cur) return 'gone' as const;
    const patch = decide({ metadata: { name: cur.name, namespace: cur.namespace }, status: cur.status ?? {} });
    if (!patch) return 'unchanged' as const;
    store.patchStatus(o.namespace, o.name, patch);
    return 'written' as const;
  };
  const index: ObservationIndex = {
    async list(ing, scope) {
      return all()
        .filter(
          (o) =>
            o.labels['zen.kube-zen.io/ingester'] === ing.name &&
            o.labels['zen.kube-zen.io/ingester-namespace'] === ing.namespace,
        )
        .filter((o) => (scope ? o.labels[SCOPE_LABEL] === scope : o.labels[SCOPE_LABEL] !== undefined))
        .map(toIndexed);
    },
    async setPhase(o, phase, reason) {
      return write(o, decisions.phase(phase, reason, o, now), () => leading !== undefined);
    },
    async setMissing(o, since) {
      if (write(o, decisions.missing(since), () => leading !== undefined) === 'fenced') return undefined;
      const cur = all().find((x) => x.namespace === o.namespace && x.name === o.name);
      return cur ? toIndexed(cur) : undefined;
    },
  };
  let leading: { controller: AbortController; term: LeaderTerm } | undefined;
  // A fake Kubernetes facade: the plugin's informers are recorded and driven by the test.
  const open: FakeInformer[] = [];
  // Each informer's transform (plugin API 1.2.0), as the host applies it: the callbacks see only what it kept.
  const shapes = new WeakMap<FakeInformer, ((obj: unknown) => unknown) | undefined>();
  const shape = (i: FakeInformer, o: Record<string, unknown> | undefined) => {
    const t = shapes.get(i);
    return (t && o !== undefined ? t(o) : o) as Record<string, unknown>;
  };
  let served: Set<string> | 'all' = 'all';
  const kube: PluginKube = {
    informer: <T>(options: InformerOptions, events: InformerEvents<T>) => {
      const { signal, ...rest } = options;
      const inf: FakeInformer = { options: rest, signal, events: events as InformerEvents<Record<string, unknown>> };
      shapes.set(inf, pluginTransform(options));
      open.push(inf);
      return new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
    hasResource: async (_g, _v, resource) => served === 'all' || served.has(resource),
    // The object as the test last delivered it (add, update, relist; gone after remove), like a GET would.
    get: async ({ resource, namespace, name }) => {
      gets++;
      return known.get(resource)?.get(`${namespace ?? ''}/${name}`);
    },
    watchNamespaces: Object.freeze([...(opts.watchNamespaces ?? [])]),
  };
  let gets = 0;

  // The host's own core (core/host/core.ts): same guards, deadlines, refusals and pipeline as the real host.
  const core = createHostCore({
    env,
    log,
    metrics,
    sink: store,
    kube,
    index,
    canActAsLeader: () => leading !== undefined,
    now,
    resolveGraceMs: opts.resolveGraceMs ?? 0,
    onTapFailure: (f) => failures.push(f),
    ...(opts.leaderWork ? { leaderWorkTiming: opts.leaderWork } : {}),
  });
  const records = await core.loadPlugins([dir]);
  const record = records[0];
  if (!record) throw zwError('ZW_ERR_PLUGIN_NOT_LOADED', { dir, detail: 'no plugin found there' });
  if (record.status !== 'loaded')
    throw zwError('ZW_ERR_PLUGIN_NOT_LOADED', { dir, detail: `${record.status}: ${record.reason}` });
  const { hooks, pipeline, validator } = core;
  const resolver = core.resolver!;

  // The Ingesters built so far, run as the host runs them (onIngesterChanged included); the last spec per name wins.
  const configs = new Map<string, IngesterConfig>();
  let changes: Promise<void> = Promise.resolve();
  const apply = () => {
    // replace() switches the active set before its first await; the onIngesterChanged calls are awaited later.
    const done = core.ingesters.replace([...configs.values()], []);
    changes = changes.then(() => done);
  };
  const compiled = (ing: IngesterConfig): CompiledIngester => core.ingesters.get(ing.key)!;
  const defaultHandler = record.manifest!.sources[0]!;
  const destinationValidator = new DestinationValidator({ ajv: core.ajv, types: destinationTypeTable([record]) });

  const deliverTo: TestPlugin['deliver'] = async (observations, input = {}) => {
    const type = input.type ?? record.manifest!.destinations?.[0];
    if (!type)
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `plugin '${record.name}' declares no destinations in its manifest`);
    const doc = {
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Destination',
      metadata: { name: input.name ?? `test-${type}`, namespace: input.namespace ?? 'default' },
      spec: {
        type,
        ...(input.url ? { url: input.url } : {}),
        ...(input.headers ? { headers: input.headers } : {}),
        ...(input.config ? { config: input.config } : {}),
        ...input.spec,
      },
    };
    const res = destinationValidator.validate(doc);
    if (!res.ok)
      throw new ZwError(
        'ZW_ERR_INGESTER_INVALID',
        `invalid test Destination: ${res.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      );
    const d = res.destination;
    const secrets = input.secrets ?? {};
    const view = destinationView(d, async (key: string) => secrets[key]);
    const at = new Date(now()).toISOString();
    const items = observations.map((o): DeliveryItem => {
      const phase = o.phase ?? (input.event === 'resolved' ? 'Resolved' : 'Active');
      const event = input.event ?? (phase === 'Resolved' ? 'resolved' : 'firing');
      const observation: DeliveredObservation = {
        ...o,
        phase,
        ...(phase === 'Resolved' ? { resolvedAt: o.resolvedAt ?? at } : {}),
        createdAt: at,
        expiresAt: new Date(now() + o.spec.ttlSecondsAfterCreation * 1000).toISOString(),
      };
      return { key: idempotencyKey(d.key, o.namespace, o.name, event), event, observation };
    });
    const hook = hooks.onDeliver.get(type);
    if (!hook?.taps.length)
      throw new ZwError('ZW_ERR_INVALID_ARGUMENT', `plugin '${record.name}' has no onDeliver tap for '${type}'`);
    const mark = failures.length;
    try {
      return await hook.promise({
        destination: view,
        items,
        attempt: input.attempt ?? 1,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw failures.slice(mark).find((f) => f.hook === 'onDeliver')?.error ?? err;
    }
  };

  const ingester = (input: IngesterInput = {}): IngesterConfig => {
    const handler = input.handler ?? defaultHandler;
    const type = input.ingester ?? record.manifest!.ingesterTypes?.[0] ?? 'webhook';
    const doc = {
      apiVersion: 'zen.kube-zen.io/v1alpha1',
      kind: 'Ingester',
      metadata: { name: input.name ?? `test-${handler}`, namespace: input.namespace ?? 'default' },
      spec: {
        source: input.source ?? handler,
        plugin: handler,
        ingester: type,
        ...(type === 'webhook' ? { webhook: { path: `/ingest/${handler}` } } : {}),
        ...(input.config ? { config: input.config } : {}),
        ...input.spec,
      },
    };
    const res = validator.validate(doc);
    if (!res.ok)
      throw zwError('ZW_ERR_INGESTER_INVALID', { detail: res.errors.map((e) => `${e.path}: ${e.message}`).join('; ') });
    configs.set(res.ingester.key, res.ingester);
    apply();
    return res.ingester;
  };

  const webhookDrafts: TestPlugin['webhookDrafts'] = async (body, input = {}) => {
    const ing = ingester(input);
    await changes;
    const mark = failures.length;
    try {
      return await core.webhookDrafts(compiled(ing), {
        body,
        rawBody: input.rawBody ?? Buffer.from(JSON.stringify(body)),
        headers: input.headers ?? {},
        contentType: input.contentType ?? 'application/json',
        jsonLines: input.jsonLines ?? false,
      });
    } catch (err) {
      // Surface the plugin's own error (the guard wraps unexpected ones in a 500 for HTTP clients).
      throw failures.slice(mark).find((f) => f.hook === 'onWebhook')?.error ?? err;
    }
  };

  const processDrafts: TestPlugin['process'] = async (drafts, input = {}) => {
    const ing = ingester(input);
    await changes;
    const before = new Set(store.list({ limit: 1_000_000 }).map((o) => `${o.namespace}/${o.name}`));
    const result = await pipeline.process(compiled(ing), drafts, 'webhook');
    const observations = store.list({ limit: 1_000_000 }).filter((o) => !before.has(`${o.namespace}/${o.name}`));
    return { result, observations: observations.map(({ createdAt: _c, ...o }) => o) };
  };

  const settle = async () => {
    await changes;
    // Repeats (occurrence counts, re-opened findings, updates in place) are written at the host's flush interval.
    await pipeline.flushOccurrences();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  const live = (resource?: string) =>
    open.filter((i) => !i.signal.aborted && (resource === undefined || i.options.resource === resource));
  const deliver = async (resource: string, fn: (i: FakeInformer) => unknown) => {
    const targets = live(resource);
    if (targets.length === 0)
      throw new ZwError(
        'ZW_ERR_INVALID_ARGUMENT',
        `the plugin has no open informer for '${resource}' (open: ${
          live()
            .map((i) => i.options.resource)
            .join(', ') || 'none'
        })`,
      );
    for (const i of targets) await fn(i);
    await settle();
  };
  const known = new Map<string, Map<string, Record<string, unknown>>>();
  // Keyed as an informer's cache keys them. Property tests deliver arbitrary objects: a name that is not a string
  // (e.g. `{toString: ""}`, which a template literal cannot convert) keys as '' rather than throwing in the kit.
  const keyOf = (o: Record<string, unknown>) => {
    const m = (o.metadata ?? {}) as { namespace?: unknown; name?: unknown };
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    return `${text(m.namespace)}/${text(m.name)}`;
  };
  const remember = (resource: string, o: Record<string, unknown>) => {
    let m = known.get(resource);
    if (!m) {
      m = new Map();
      known.set(resource, m);
    }
    m.set(keyOf(o), o);
  };
  const inScope = (i: FakeInformer, obj: Record<string, unknown>) => {
    const ns = (obj.metadata as { namespace?: string } | undefined)?.namespace;
    return !i.options.namespace || i.options.namespace === ns;
  };

  return {
    record,
    validateDestination: (doc) => destinationValidator.validate(doc),
    deliver: deliverTo,
    validateIngester: (doc) => validator.validate(doc),
    ingester,
    webhookDrafts,
    process: processDrafts,
    webhook: async (body, input = {}) => processDrafts(await webhookDrafts(body, input), input),
    async startLeading() {
      if (leading) return leading.term;
      const controller = new AbortController();
      const term: LeaderTerm = { signal: controller.signal, identity: 'testkit', startedAt: now() };
      leading = { controller, term };
      await changes;
      await hooks.onBecomeLeader.promise(term);
      await settle();
      return term;
    },
    async stopLeading() {
      if (!leading) return;
      const { controller, term } = leading;
      leading = undefined;
      controller.abort(new ZwError('ZW_ERR_ABORTED', 'test stopped leading'));
      await hooks.onLoseLeadership.promise(term);
      await settle();
    },
    informers: live,
    add: (resource, obj) => {
      remember(resource, obj);
      return deliver(resource, async (i) => (inScope(i, obj) ? i.events.add?.(shape(i, obj)) : undefined));
    },
    update: (resource, obj, old) => {
      remember(resource, obj);
      return deliver(resource, async (i) =>
        inScope(i, obj) ? i.events.update?.(shape(i, obj), old && shape(i, old)) : undefined,
      );
    },
    remove: (resource, obj) => {
      known.get(resource)?.delete(keyOf(obj));
      return deliver(resource, async (i) => (inScope(i, obj) ? i.events.delete?.(shape(i, obj)) : undefined));
    },
    // As the real informer does on a relist: add what is new, update what changed, delete what vanished, then synced.
    relist: async (resource, objects) => {
      const before = known.get(resource) ?? new Map<string, Record<string, unknown>>();
      const after = new Map(objects.map((o) => [keyOf(o), o]));
      known.set(resource, after);
      await deliver(resource, async (i) => {
        for (const [k, o] of after) {
          if (!inScope(i, o)) continue;
          const prev = before.get(k);
          if (!prev) await i.events.add?.(shape(i, o));
          else if (JSON.stringify(prev) !== JSON.stringify(o)) await i.events.update?.(shape(i, o), shape(i, prev));
        }
        for (const [k, o] of before) if (!after.has(k) && inScope(i, o)) await i.events.delete?.(shape(i, o));
        await i.events.synced?.(objects.filter((o) => inScope(i, o)).map((o) => shape(i, o)));
      });
    },
    serve(resources) {
      served = resources === 'all' ? 'all' : new Set(resources);
    },
    tick: () => resolver.tick(),
    settle,
    failures: () => [...failures],
    metrics: () => metrics.registry.metrics(),
    gets: () => gets,
    observations: all,
    close: async () => {
      leading?.controller.abort();
      await store.close();
    },
  };
}

export type { TapFailure };

const compiledSchemas = new WeakMap<object, ValidateFunction>();

/**
 * `spec.config` as the host would hand it to the plugin: `config` validated against `schema` (your schema.json)
 * by the host's own ajv (same options, the shared fragments registered) with the schema's defaults applied. For
 * tests of pure mapping code, which then need no defaults of their own. Throws ZwError `ZW_ERR_INGESTER_INVALID`
 * naming the field when the host would reject it.
 */
export function configFromSchema<Config = Readonly<Record<string, unknown>>>(
  schema: object,
  config: unknown = {},
): Config {
  let validate = compiledSchemas.get(schema);
  if (!validate) {
    validate = createAjv().compile(schema);
    compiledSchemas.set(schema, validate);
  }
  const copy = structuredClone(config ?? {});
  if (!validate(copy)) {
    const detail = ajvErrorsToFieldErrors(validate.errors, 'spec.config')
      .map((e) => `${e.path}: ${e.message}`)
      .join('; ');
    throw zwError('ZW_ERR_INGESTER_INVALID', { detail });
  }
  return copy as Config;
}
export { ZwError };

/**
 * `api.leaderWork` for a hand-made fake `PluginApi` (plugin API 1.2.0): the host's own implementation, on the fake's
 * hooks (`onBecomeLeader`, `onIngesterChanged`), `ingesters()`, `reconcile`, `reconcileScopes` and `kube`. For unit
 * tests that drive those hooks themselves; `loadTestPlugin` needs nothing of this.
 */
export function fakeLeaderWork(
  api: Pick<PluginApi, 'hooks' | 'ingesters' | 'reconcile' | 'reconcileScopes' | 'kube' | 'log' | 'name'>,
  opts: { handlers?: readonly string[]; retryInitialMs?: number; retryMaxMs?: number; recheckMs?: number } = {},
): PluginApi['leaderWork'] {
  const noop = { runs() {}, retry() {}, startError() {} };
  return (work) =>
    registerLeaderWork(api.name, opts.handlers ?? [api.name], api, api.log, noop, work, {
      ...(opts.retryInitialMs !== undefined ? { retryInitialMs: opts.retryInitialMs } : {}),
      ...(opts.retryMaxMs !== undefined ? { retryMaxMs: opts.retryMaxMs } : {}),
      ...(opts.recheckMs !== undefined ? { recheckMs: opts.recheckMs } : {}),
    });
}
