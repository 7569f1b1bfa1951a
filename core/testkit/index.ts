/**
 * The plugin test kit (public for plugin authors): load one plugin directory with the real loader, hooks and
 * pipeline, then run its webhook handler on a payload, or emit informer drafts, and get back the Observations
 * (or the typed error) — no cluster, no HTTP server. Import it as `zen-watcher/testkit`.
 */
import {
  HOST_API_VERSION,
  type IngesterView,
  type Observation,
  type ObservationDraft,
  type WebhookRequest,
  ZwError,
} from '../api/index.ts';
import { createAjv, type IngesterConfig, IngesterValidator, type ValidationResult } from '../config/validate.ts';
import { installGuard } from '../hooks/guard.ts';
import { createHostHooks } from '../hooks/host-hooks.ts';
import { handlerTable } from '../host/host.ts';
import { createPluginContext } from '../host/plugin-facade.ts';
import { discoverPlugins, importAndRegister, type PluginRecord, registerPluginApiSpecifier } from '../loader/index.ts';
import { type CompiledIngester, Pipeline, type ProcessResult } from '../pipeline/pipeline.ts';
import { SqliteStore } from '../sinks/sqlite-store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { createMetrics } from '../telemetry/metrics.ts';

export interface IngesterInput {
  name?: string;
  namespace?: string;
  source?: string;
  handler?: string;
  ingester?: 'webhook' | 'informer';
  /** Extra spec fields (filters, deduplication, ...), merged into the generated Ingester. */
  spec?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface TestPlugin {
  readonly record: PluginRecord;
  /** Validate a whole Ingester document against the Ingester schema and this plugin's configSchema. */
  validateIngester(doc: unknown): ValidationResult;
  /** Build a valid Ingester for this plugin (throws with the field errors if it is not valid). */
  ingester(input?: IngesterInput): IngesterConfig;
  /** Run the plugin's onWebhook tap: the drafts, or a thrown ZwError (e.g. 422 with a field). */
  webhookDrafts(
    body: unknown,
    input?: IngesterInput & {
      rawBody?: Buffer;
      headers?: Record<string, string>;
      jsonLines?: boolean;
      contentType?: string;
    },
  ): Promise<ObservationDraft[]>;
  /** Drafts through the real pipeline into an in-memory store: what would be written. */
  process(
    drafts: ObservationDraft[],
    input?: IngesterInput,
  ): Promise<{ result: ProcessResult; observations: Observation[] }>;
  /** webhookDrafts + process. */
  webhook(
    body: unknown,
    input?: IngesterInput & { jsonLines?: boolean },
  ): Promise<{ result: ProcessResult; observations: Observation[] }>;
  /** Observations written so far by process()/webhook() on this instance. */
  observations(): Observation[];
  close(): Promise<void>;
}

export async function loadTestPlugin(dir: string, opts: { now?: () => number } = {}): Promise<TestPlugin> {
  registerPluginApiSpecifier();
  const ajv = createAjv();
  const records = discoverPlugins([dir], { ajv, hostApiVersion: HOST_API_VERSION });
  const record = records[0];
  if (!record) throw new Error(`no plugin found in ${dir}`);
  const hooks = createHostHooks();
  const failures: unknown[] = [];
  const guard = (hook: 'onWebhook' | 'onObservation') => ({
    hook,
    kind: hook === 'onWebhook' ? ('bail' as const) : ('waterfall' as const),
    deadlineMs: () => 10_000,
    observe: () => {},
    onFailure: (f: { error: unknown }) => failures.push(f.error),
  });
  hooks.onWebhook.intercept({
    factory: (_k, h) => {
      installGuard(h as never, guard('onWebhook'));
      return h;
    },
  });
  installGuard(hooks.onObservation as never, guard('onObservation'));
  const metrics = createMetrics();
  const log = createLogger({ level: process.env.ZEN_TESTKIT_LOG ?? 'silent' });
  const store = new SqliteStore(':memory:');
  const pipeline = new Pipeline({
    sink: store,
    metrics,
    dropLog: () => {},
    maxDetailsBytes: 16_384,
    defaultTtlSeconds: 604_800,
    dedupMaxEntries: 100_000,
    maxQueue: 100_000,
    webhookWindowMs: 60_000,
    ...(opts.now ? { now: opts.now } : {}),
    enrich: async (d, ing) =>
      hooks.onObservation.taps.length > 0 ? hooks.onObservation.promise(d, { ingester: ing.view }) : d,
  });
  const compiled = new Map<string, CompiledIngester>();
  const compile = (ing: IngesterConfig) => {
    const key = JSON.stringify(ing.spec) + ing.key;
    let ci = compiled.get(key);
    if (!ci) {
      ci = pipeline.compile(ing);
      compiled.set(key, ci);
    }
    return ci;
  };
  await importAndRegister(record, (r) =>
    createPluginContext(r, {
      hooks,
      log,
      metrics,
      kube: undefined,
      ingesters: () => [],
      emit: async (view: IngesterView, drafts: ObservationDraft[]) => {
        const r2 = await pipeline.process(compile(ingesterFor(view)), drafts, 'informer');
        return { created: r2.created, duplicates: r2.duplicates, filtered: r2.filtered, dropped: r2.dropped };
      },
    }),
  );
  if (record.status !== 'loaded') throw new Error(`plugin in ${dir} did not load: ${record.status}: ${record.reason}`);
  const handlers = handlerTable([record]);
  const validator = new IngesterValidator({
    ajv,
    handlers: (h) => handlers.get(h),
    knownHandlers: () => [...handlers.keys()],
  });
  const byView = new Map<string, IngesterConfig>();
  const ingesterFor = (view: IngesterView) => {
    const i = byView.get(`${view.namespace}/${view.name}`);
    if (!i) throw new Error(`unknown Ingester ${view.namespace}/${view.name}`);
    return i;
  };
  const defaultHandler = record.manifest!.sources[0]!;

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
      throw new Error(`invalid test Ingester: ${res.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    byView.set(res.ingester.key, res.ingester);
    return res.ingester;
  };

  const webhookDrafts: TestPlugin['webhookDrafts'] = async (body, input = {}) => {
    const ing = ingester(input);
    const hook = hooks.onWebhook.get(ing.handler.handler);
    if (!hook?.taps.length)
      throw new Error(`plugin '${record.name}' has no onWebhook tap for '${ing.handler.handler}'`);
    const raw = input.rawBody ?? Buffer.from(JSON.stringify(body));
    const req: WebhookRequest = {
      ingester: ing.view,
      body,
      rawBody: raw,
      headers: input.headers ?? {},
      contentType: input.contentType ?? 'application/json',
      jsonLines: input.jsonLines ?? false,
      signal: AbortSignal.timeout(10_000),
    };
    failures.length = 0;
    const drafts = await hook.promise(req);
    if (failures.length) throw failures[0];
    return drafts ?? [];
  };

  const processDrafts: TestPlugin['process'] = async (drafts, input = {}) => {
    const before = new Set(store.list({ limit: 1_000_000 }).map((o) => `${o.namespace}/${o.name}`));
    const result = await pipeline.process(compile(ingester(input)), drafts, 'webhook');
    const observations = store.list({ limit: 1_000_000 }).filter((o) => !before.has(`${o.namespace}/${o.name}`));
    return { result, observations: observations.map(({ createdAt: _c, ...o }) => o) };
  };

  return {
    record,
    validateIngester: (doc) => validator.validate(doc),
    ingester,
    webhookDrafts,
    process: processDrafts,
    webhook: async (body, input = {}) => processDrafts(await webhookDrafts(body, input), input),
    observations: () => store.list({ limit: 1_000_000 }).map(({ createdAt: _c, ...o }) => o),
    close: () => store.close(),
  };
}

export { ZwError };
