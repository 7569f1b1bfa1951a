/**
 * The plugin's `spec.config` (schema.json) as types, its defaults (the same values as the schema's), and the
 * checks the schema cannot express: paths are parsed, regular expressions compiled, and `spec.informer.gvr` is
 * required. compileConfig turns a config into the form map.ts uses, or throws ConfigError naming the field.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { IngesterView, Severity } from 'zen-watcher/plugin-api';
import { type ParsedPath, PathError, parsePath } from './path.ts';
import type { configSchema } from './schema.gen.ts';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type InformerConfig = FromSchema<typeof configSchema>;
export type MatchRule = InformerConfig['match'][number];
export type DefaultField = keyof InformerConfig['defaults'];

export class ConfigError extends Error {
  /** Dot path from the Ingester root, e.g. `spec.config.match[0].pattern`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}

export interface CompiledMatch {
  path: ParsedPath;
  values?: ReadonlySet<string>;
  pattern?: RegExp;
}

export interface CompiledConfig {
  readonly jsonDocument?: { key: string };
  readonly items?: ParsedPath;
  readonly match: readonly CompiledMatch[];
  readonly fields: {
    readonly severity: ParsedPath;
    readonly title: ParsedPath;
    readonly message: ParsedPath;
    readonly category: ParsedPath;
    readonly eventType: ParsedPath;
    readonly detectedAt: ParsedPath;
    readonly fingerprint?: readonly ParsedPath[];
    readonly resource?: ParsedPath;
    readonly resourceApiVersion?: ParsedPath;
    readonly resourceKind?: ParsedPath;
    readonly resourceName?: ParsedPath;
    readonly resourceNamespace?: ParsedPath;
    readonly details?: ParsedPath | readonly (readonly [string, ParsedPath])[];
  };
  /** Lower-cased source value → severity. */
  readonly severityMap: ReadonlyMap<string, Severity>;
  readonly defaults: Readonly<Partial<Record<DefaultField, string>>>;
  /** True when any resource field or default is configured: the resource is then built only from those. */
  readonly customResource: boolean;
  readonly maxItems: number;
  readonly resolve: boolean;
}

const SEVERITIES = new Set(['critical', 'high', 'medium', 'low', 'info']);
const RESOURCE_FIELDS = ['resourceApiVersion', 'resourceKind', 'resourceName', 'resourceNamespace'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parse and check a config (already schema-valid in the host); throws ConfigError with the field path. */
export function compileConfig(config: Readonly<InformerConfig>): CompiledConfig {
  const c = config;
  const at = (p: string) => `spec.config.${p}`;
  const path = (text: unknown, field: string, wildcards = false): ParsedPath => {
    if (typeof text !== 'string') throw new ConfigError(at(field), 'must be a path string');
    try {
      return parsePath(text, { wildcards });
    } catch (err) {
      if (err instanceof PathError) throw new ConfigError(at(field), err.message);
      throw err;
    }
  };

  const match: CompiledMatch[] = [];
  if (!Array.isArray(c.match)) throw new ConfigError(at('match'), 'must be an array of conditions');
  c.match.forEach((rule, i) => {
    if (!isObject(rule)) throw new ConfigError(at(`match[${i}]`), 'must be an object');
    const m: CompiledMatch = { path: path(rule.path, `match[${i}].path`) };
    if (rule.values === undefined && rule.pattern === undefined)
      throw new ConfigError(at(`match[${i}]`), 'needs values or pattern');
    if (rule.values !== undefined) {
      if (!Array.isArray(rule.values)) throw new ConfigError(at(`match[${i}].values`), 'must be an array of strings');
      m.values = new Set(rule.values.map((v) => String(v).toLowerCase()));
    }
    if (rule.pattern !== undefined) {
      try {
        m.pattern = new RegExp(String(rule.pattern), 'i');
      } catch (err) {
        throw new ConfigError(
          at(`match[${i}].pattern`),
          `is not a valid regular expression: ${(err as Error).message}`,
        );
      }
    }
    match.push(m);
  });

  const f = c.fields;
  const fingerprint =
    f.fingerprint === undefined
      ? undefined
      : (Array.isArray(f.fingerprint) ? f.fingerprint : [f.fingerprint]).map((p, i) =>
          path(p, Array.isArray(f.fingerprint) ? `fields.fingerprint[${i}]` : 'fields.fingerprint'),
        );
  if (fingerprint?.length === 0) throw new ConfigError(at('fields.fingerprint'), 'must name at least one path');
  let details: CompiledConfig['fields']['details'];
  if (typeof f.details === 'string') details = path(f.details, 'fields.details');
  else if (isObject(f.details))
    details = Object.entries(f.details).map(([name, p]) => [name, path(p, `fields.details.${name}`)] as const);

  const severityMap = new Map<string, Severity>();
  for (const [k, v] of Object.entries(c.severityMap ?? {})) {
    if (!SEVERITIES.has(String(v)))
      throw new ConfigError(at(`severityMap.${k}`), 'must be one of: critical, high, medium, low, info');
    severityMap.set(k.toLowerCase(), v);
  }
  if (!Number.isInteger(c.maxItems) || c.maxItems < 1) throw new ConfigError(at('maxItems'), 'must be an integer ≥ 1');

  const fields: CompiledConfig['fields'] = {
    severity: path(f.severity, 'fields.severity'),
    title: path(f.title, 'fields.title'),
    message: path(f.message, 'fields.message'),
    category: path(f.category, 'fields.category'),
    eventType: path(f.eventType, 'fields.eventType'),
    detectedAt: path(f.detectedAt, 'fields.detectedAt'),
    ...(fingerprint ? { fingerprint } : {}),
    ...(f.resource !== undefined ? { resource: path(f.resource, 'fields.resource') } : {}),
    ...Object.fromEntries(RESOURCE_FIELDS.filter((k) => f[k] !== undefined).map((k) => [k, path(f[k], `fields.${k}`)])),
    ...(details ? { details } : {}),
  };
  const customResource =
    f.resource !== undefined ||
    RESOURCE_FIELDS.some((k) => f[k] !== undefined) ||
    RESOURCE_FIELDS.some((k) => c.defaults[k] !== undefined);

  if (c.jsonDocument !== undefined && (!isObject(c.jsonDocument) || typeof c.jsonDocument.key !== 'string'))
    throw new ConfigError(at('jsonDocument.key'), 'is required');
  return Object.freeze({
    ...(c.jsonDocument ? { jsonDocument: { key: c.jsonDocument.key } } : {}),
    ...(c.itemsField !== undefined ? { items: path(c.itemsField, 'itemsField', true) } : {}),
    match,
    fields,
    severityMap,
    defaults: { ...c.defaults },
    customResource,
    maxItems: c.maxItems,
    resolve: c.resolve !== false,
  });
}

/** What to watch, from the Ingester; throws ConfigError when spec.informer.gvr is missing. */
export function watchTarget(view: IngesterView): {
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
} {
  const inf = view.informer ?? {};
  const gvr = inf.gvr;
  if (!gvr?.version || !gvr.resource) {
    throw new ConfigError(
      'spec.informer.gvr',
      "is required by the informer plugin: name the resource to watch, e.g. { group: '', version: v1, resource: configmaps }",
    );
  }
  return {
    group: gvr.group ?? '',
    version: gvr.version,
    resource: gvr.resource,
    ...(inf.namespace ? { namespace: inf.namespace } : {}),
    ...(inf.labelSelector ? { labelSelector: inf.labelSelector } : {}),
    ...(inf.fieldSelector ? { fieldSelector: inf.fieldSelector } : {}),
  };
}
