/**
 * Ingester validation: ajv against the Ingester schema, then cross-field checks, then `spec.config` against the
 * chosen plugin's configSchema. The same functions serve startup, the Kubernetes watch (status conditions) and
 * `zen-watcher validate`. Every error names a field path (`spec.filters.minSeverity`).
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { pluginConfigSchema } from '../api/config.ts';
import type { IngesterView } from '../api/index.ts';
import { parseDurationMs } from './duration.ts';
import { ingesterDocumentSchema } from './ingester-schema.ts';

export interface FieldError {
  /** Dot path from the document root, e.g. `spec.config.minPriority`. */
  path: string;
  message: string;
}

/** What the validator needs to know about a source handler; built from plugin manifests (no code imported). */
export interface HandlerInfo {
  handler: string;
  plugin: string;
  pluginVersion: string;
  ingesterTypes: readonly ('webhook' | 'informer')[];
  maxBodyBytes?: number;
  /** Compiled configSchema; undefined = the plugin takes no config. */
  validateConfig?: ValidateFunction;
}

export type HandlerLookup = (handler: string) => HandlerInfo | undefined;

/** A validated Ingester, deep-frozen; `spec` has schema defaults applied. */
export interface IngesterConfig {
  readonly key: string; // namespace/name
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly generation: number;
  readonly spec: Readonly<IngesterSpec>;
  readonly handler: HandlerInfo;
  readonly view: IngesterView;
}

export interface IngesterSpec {
  source: string;
  plugin?: string;
  ingester: 'webhook' | 'informer';
  informer?: IngesterView['informer'];
  webhook?: { path: string; methods: string[]; maxBodyBytes?: number; auth?: WebhookAuthSpec };
  filters?: Record<string, unknown>;
  deduplication?: { enabled: boolean; strategy: 'fingerprint' | 'key' | 'hybrid'; window?: string; fields?: string[] };
  ttl?: { default?: string; min?: string; max?: string };
  rateLimit?: { enabled: boolean; requestsPerSecond?: number; burst?: number };
  destinations?: DestinationUse[];
  config?: Record<string, unknown>;
}

/** One entry of spec.destinations: the Observation CRD, or a Destination resource with per-use filters. */
export interface DestinationUse {
  type: 'crd' | 'destination';
  value?: 'observations';
  namespace?: string;
  name?: string;
  minSeverity?: 'critical' | 'high' | 'medium' | 'low' | 'info';
  sources?: string[];
  namespaces?: string[];
  categories?: string[];
}

/** spec.webhook.auth (the HTTP layer has its own structurally equal type: config and http do not import each other). */
export interface WebhookAuthSpec {
  type: 'none' | 'bearer' | 'hmac';
  secretRef?: { name: string; key?: string };
  secretFile?: string;
  hmac?: { header?: string; prefix?: string; timestampHeader?: string; toleranceSeconds?: number };
}

export type ValidationResult =
  | { ok: true; ingester: IngesterConfig }
  | { ok: false; reason: 'InvalidConfig' | 'PluginMissing'; errors: FieldError[] };

/** One ajv instance for host schemas and plugin config schemas: allErrors, defaults from the schema, strict. */
export function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    strict: true,
    strictRequired: false,
    allowUnionTypes: true,
  });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-kubernetes-int-or-string', schemaType: 'boolean' });
  // The fragments plugin config schemas share by $ref: one meaning of config.namespaces and minSeverity.
  ajv.addSchema(pluginConfigSchema);
  return ajv;
}

/** `/spec/filters/0/x` + missingProperty → `spec.filters[0].x`. */
export function ajvErrorsToFieldErrors(errors: ErrorObject[] | null | undefined, prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors ?? []) {
    let path = prefix;
    for (const seg of e.instancePath.split('/').slice(1)) {
      const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
      path = /^[0-9]+$/.test(s) ? `${path}[${s}]` : path ? `${path}.${s}` : s;
    }
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') {
      const p = (e.params as { missingProperty: string }).missingProperty;
      path = path ? `${path}.${p}` : p;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties') {
      const p = (e.params as { additionalProperty: string }).additionalProperty;
      path = path ? `${path}.${p}` : p;
      message = 'is not a known field';
    } else if (e.keyword === 'enum') {
      message = `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    }
    const at = path || '(root)';
    const same = out.find((o) => o.path === at);
    if (same) {
      if (!same.message.includes(message)) same.message += `; ${message}`;
    } else out.push({ path: at, message });
  }
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class IngesterValidator {
  readonly #validateDoc: ValidateFunction;
  readonly #handlers: HandlerLookup;
  readonly #knownHandlers: () => string[];

  constructor(opts: { ajv?: Ajv; handlers: HandlerLookup; knownHandlers: () => string[] }) {
    const ajv = opts.ajv ?? createAjv();
    this.#validateDoc = ajv.getSchema(ingesterDocumentSchema.$id) ?? ajv.compile(ingesterDocumentSchema);
    this.#handlers = opts.handlers;
    this.#knownHandlers = opts.knownHandlers;
  }

  /** Validate one Ingester document. Never throws for bad input; `defaultNamespace` fills metadata.namespace. */
  validate(input: unknown, defaultNamespace = 'default'): ValidationResult {
    const doc = structuredClone(input) as Record<string, unknown>;
    const errors: FieldError[] = [];
    const schemaOk = this.#validateDoc(doc);
    if (!schemaOk) errors.push(...ajvErrorsToFieldErrors(this.#validateDoc.errors));
    const rawSpec = doc && typeof doc === 'object' ? doc.spec : undefined;
    if (!rawSpec || typeof rawSpec !== 'object' || Array.isArray(rawSpec)) {
      return { ok: false, reason: 'InvalidConfig', errors };
    }
    const spec = rawSpec as IngesterSpec;

    // Cross-field rules the schema cannot express (also CEL rules in the CRD). Only meaningful once the
    // document is well-formed; plugin config is checked either way so one run reports every problem.
    if (schemaOk) {
      if (spec.ingester === 'webhook' && !spec.webhook) {
        errors.push({ path: 'spec.webhook', message: 'is required when spec.ingester is webhook' });
      }
      if (spec.ingester === 'informer' && spec.webhook) {
        errors.push({ path: 'spec.webhook', message: 'must not be set when spec.ingester is informer' });
      }
      if (spec.ingester === 'webhook' && spec.informer) {
        errors.push({ path: 'spec.informer', message: 'must not be set when spec.ingester is webhook' });
      }
      errors.push(...checkDurations(spec), ...checkDestinationUses(spec));
      const pathProblem = spec.webhook && webhookPathProblem(spec.webhook.path);
      if (pathProblem) errors.push({ path: 'spec.webhook.path', message: pathProblem });
      const window = spec.deduplication?.window;
      if (spec.ingester === 'informer' && window !== undefined && !/^0(ms|s|m|h|d)?$/.test(window)) {
        // An informer finding is one Observation for as long as it is reported; a window would split it in time.
        errors.push({ path: 'spec.deduplication.window', message: 'must be 0s (or unset) for informer Ingesters' });
      }
      const auth = spec.webhook?.auth;
      if (auth && auth.type !== 'none' && !auth.secretRef && !auth.secretFile) {
        errors.push({ path: 'spec.webhook.auth', message: `type ${auth.type} needs secretRef or secretFile` });
      }
      if (auth?.secretRef && auth.secretFile) {
        errors.push({ path: 'spec.webhook.auth', message: 'set secretRef or secretFile, not both' });
      }
    }

    const handlerName =
      typeof spec.plugin === 'string' ? spec.plugin : typeof spec.source === 'string' ? spec.source : undefined;
    const handler = handlerName !== undefined ? this.#handlers(handlerName) : undefined;
    if (!handler) {
      if (handlerName === undefined) return { ok: false, reason: 'InvalidConfig', errors };
      const known = this.#knownHandlers();
      errors.push({
        path: spec.plugin ? 'spec.plugin' : 'spec.source',
        message: `no loaded plugin provides source handler '${handlerName}' (available: ${known.join(', ') || 'none'}); set spec.plugin to one of them`,
      });
      return { ok: false, reason: 'PluginMissing', errors };
    }
    if (typeof spec.ingester === 'string' && !handler.ingesterTypes.includes(spec.ingester) && schemaOk) {
      errors.push({
        path: 'spec.ingester',
        message: `plugin '${handler.plugin}' serves '${handler.handler}' as ${handler.ingesterTypes.join('/')}, not ${spec.ingester}`,
      });
    }
    if (spec.config === undefined) spec.config = {};
    if (spec.config && typeof spec.config === 'object' && !Array.isArray(spec.config)) {
      if (handler.validateConfig) {
        if (!handler.validateConfig(spec.config)) {
          errors.push(...ajvErrorsToFieldErrors(handler.validateConfig.errors, 'spec.config'));
        }
      } else if (Object.keys(spec.config).length > 0) {
        errors.push({ path: 'spec.config', message: `plugin '${handler.plugin}' takes no configuration` });
      }
    }
    if (errors.length > 0 || !schemaOk) return { ok: false, reason: 'InvalidConfig', errors };

    const meta = doc.metadata as { name: string; namespace?: string; generation?: number; uid?: string };
    const namespace = meta.namespace ?? defaultNamespace;
    const view: IngesterView = {
      namespace,
      name: meta.name,
      source: spec.source,
      handler: handler.handler,
      ingester: spec.ingester,
      config: spec.config,
      ...(spec.informer ? { informer: spec.informer } : {}),
      ...(spec.webhook ? { webhook: { path: spec.webhook.path } } : {}),
      generation: meta.generation ?? 1,
    };
    const ingester: IngesterConfig = {
      key: `${namespace}/${meta.name}`,
      namespace,
      name: meta.name,
      uid: meta.uid,
      generation: meta.generation ?? 1,
      spec,
      handler,
      view,
    };
    deepFreeze(spec);
    return { ok: true, ingester: Object.freeze({ ...ingester, view: deepFreeze(view) }) };
  }
}

/**
 * Paths the host's listener answers itself whatever the Ingesters say (koaOnly in core/http/server.ts, which these
 * must follow): an Ingester there would be accepted and never called. config may not import http, hence a copy.
 */
const RESERVED_PATHS = new Map([
  ['/', "the host's / (a redirect to the UI)"],
  ['/healthz', "the host's /healthz"],
  ['/readyz', "the host's /readyz"],
  ['/metrics', "the host's /metrics"],
  ['/ui', "the host's UI (/ui)"],
]);
const RESERVED_PREFIXES = new Map([
  ['/ui/', "the host's UI (/ui/)"],
  ['/api/', "the host's read API (/api/)"],
]);

/** What the host's listener keeps `path` for, or undefined (exported for the test that holds it to koaOnly). */
export function reservedFor(path: string): string | undefined {
  return RESERVED_PATHS.get(path) ?? [...RESERVED_PREFIXES].find(([prefix]) => path.startsWith(prefix))?.[1];
}

/**
 * What is wrong with spec.webhook.path beyond the schema's characters, or undefined. The router matches the raw
 * path exactly, while clients resolve `.` and `..` and proxies merge `//` (nginx merge_slashes): such a path could
 * not be reached; `/x/` next to `/x` would be two webhooks that look like one and escape the Conflict check.
 */
function webhookPathProblem(path: string): string | undefined {
  const reserved = reservedFor(path);
  if (reserved) return `'${path}' is reserved for ${reserved}; choose another path, e.g. /ingest/<source>`;
  if (path.endsWith('/'))
    return `must not end with '/': paths are matched exactly, so '${path}' and '${path.slice(0, -1)}' would be two different webhooks`;
  const segments = path.slice(1).split('/');
  if (segments.includes(''))
    return "must not contain empty segments ('//'): proxies merge them, so it could not be reached";
  for (const dots of ['..', '.'])
    if (segments.includes(dots))
      return `must not contain '${dots}' segments: clients and proxies resolve them, so it could not be reached`;
  return undefined;
}

const DESTINATION_ONLY = ['name', 'minSeverity', 'sources', 'namespaces', 'categories'] as const;

function checkDestinationUses(spec: IngesterSpec): FieldError[] {
  const errors: FieldError[] = [];
  const uses = spec.destinations ?? [];
  if (uses.filter((u) => u.type === 'crd').length > 1)
    errors.push({ path: 'spec.destinations', message: 'may hold at most one item of type crd' });
  const seen = new Set<string>();
  uses.forEach((u, i) => {
    const at = `spec.destinations[${i}]`;
    if (u.type === 'crd') {
      for (const f of DESTINATION_ONLY)
        if (u[f] !== undefined) errors.push({ path: `${at}.${f}`, message: 'is only for type destination' });
    } else {
      if (!u.name) errors.push({ path: `${at}.name`, message: 'is required for type destination' });
      const key = `${u.namespace ?? ''}/${u.name}`;
      if (seen.has(key)) errors.push({ path: `${at}.name`, message: `names Destination '${u.name}' a second time` });
      seen.add(key);
    }
  });
  return errors;
}

function checkDurations(spec: IngesterSpec): FieldError[] {
  const errors: FieldError[] = [];
  const ttl = spec.ttl;
  if (ttl) {
    const ms = (s: string | undefined) => (s === undefined ? undefined : parseDurationMs(s));
    const [d, min, max] = [ms(ttl.default), ms(ttl.min), ms(ttl.max)];
    if (min !== undefined && max !== undefined && min > max)
      errors.push({ path: 'spec.ttl.min', message: 'must not exceed spec.ttl.max' });
    if (d !== undefined && min !== undefined && d < min)
      errors.push({ path: 'spec.ttl.default', message: 'must not be below spec.ttl.min' });
    if (d !== undefined && max !== undefined && d > max)
      errors.push({ path: 'spec.ttl.default', message: 'must not exceed spec.ttl.max' });
    for (const [k, v] of [
      ['default', d],
      ['min', min],
      ['max', max],
    ] as const) {
      if (v !== undefined && v < 1000) errors.push({ path: `spec.ttl.${k}`, message: 'must be at least 1s' });
    }
  }
  if (
    spec.deduplication?.strategy &&
    spec.deduplication.strategy !== 'fingerprint' &&
    !spec.deduplication.fields?.length
  ) {
    errors.push({
      path: 'spec.deduplication.fields',
      message: `is required for strategy ${spec.deduplication.strategy}`,
    });
  }
  return errors;
}
