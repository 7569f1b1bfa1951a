/**
 * Destination validation: ajv against the Destination schema, cross-field checks, then `spec.config` against the
 * destination plugin's configSchema. Used at startup (standalone files), by the Kubernetes watch (status) and by
 * `zen-watcher validate`. Every error names a field path.
 */
import type { Ajv, ValidateFunction } from 'ajv';
import { parseDurationMs } from '../config/duration.ts';
import { ajvErrorsToFieldErrors, createAjv, deepFreeze, type FieldError } from '../config/validate.ts';
import type { PluginRecord } from '../loader/index.ts';
import { destinationDocumentSchema } from './schema.ts';

export interface DestinationSpec {
  type: string;
  url?: string;
  headers?: Record<string, string>;
  secretRef?: { name: string };
  secretDir?: string;
  paused: boolean;
  delivery: { batchSize: number; maxBacklog: number; timeout: string; minBackoff: string; maxBackoff: string };
  config?: Record<string, unknown>;
}

/** What the validator needs to know about a destination type; built from manifests (no code imported). */
export interface DestinationTypeInfo {
  type: string;
  plugin: string;
  pluginVersion: string;
  validateConfig?: ValidateFunction;
}

/** A validated Destination, deep-frozen; `spec` has schema defaults applied. */
export interface DestinationConfig {
  readonly key: string; // namespace/name
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
  readonly generation: number;
  readonly spec: Readonly<DestinationSpec>;
  readonly info: DestinationTypeInfo;
  readonly timeoutMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

export type DestinationValidation =
  | { ok: true; destination: DestinationConfig }
  | { ok: false; reason: 'InvalidConfig' | 'PluginMissing'; errors: FieldError[] };

export function destinationTypeTable(records: readonly PluginRecord[]): Map<string, DestinationTypeInfo> {
  const table = new Map<string, DestinationTypeInfo>();
  for (const r of records) {
    if (r.status !== 'loaded' || !r.manifest) continue;
    for (const type of r.manifest.destinations ?? []) {
      table.set(type, {
        type,
        plugin: r.name,
        pluginVersion: r.version,
        ...(r.validateConfig ? { validateConfig: r.validateConfig } : {}),
      });
    }
  }
  return table;
}

export class DestinationValidator {
  readonly #validateDoc: ValidateFunction;
  readonly #types: (type: string) => DestinationTypeInfo | undefined;
  readonly #known: () => string[];

  constructor(opts: { ajv?: Ajv; types: ReadonlyMap<string, DestinationTypeInfo> }) {
    const ajv = opts.ajv ?? createAjv();
    this.#validateDoc = ajv.getSchema(destinationDocumentSchema.$id) ?? ajv.compile(destinationDocumentSchema);
    this.#types = (t) => opts.types.get(t);
    this.#known = () => [...opts.types.keys()];
  }

  /** Validate one Destination document. Never throws for bad input. */
  validate(input: unknown, defaultNamespace = 'default'): DestinationValidation {
    const doc = structuredClone(input) as Record<string, unknown>;
    const errors: FieldError[] = [];
    const schemaOk = this.#validateDoc(doc);
    if (!schemaOk) errors.push(...ajvErrorsToFieldErrors(this.#validateDoc.errors));
    const rawSpec = doc && typeof doc === 'object' ? doc.spec : undefined;
    if (!rawSpec || typeof rawSpec !== 'object' || Array.isArray(rawSpec)) {
      return { ok: false, reason: 'InvalidConfig', errors };
    }
    const spec = rawSpec as DestinationSpec;
    let ms = { timeout: 0, min: 0, max: 0 };
    if (schemaOk) {
      if (spec.secretRef && spec.secretDir)
        errors.push({ path: 'spec.secretRef', message: 'set secretRef or secretDir, not both' });
      ms = {
        timeout: parseDurationMs(spec.delivery.timeout),
        min: parseDurationMs(spec.delivery.minBackoff),
        max: parseDurationMs(spec.delivery.maxBackoff),
      };
      if (ms.timeout < 100) errors.push({ path: 'spec.delivery.timeout', message: 'must be at least 100ms' });
      if (ms.min < 10) errors.push({ path: 'spec.delivery.minBackoff', message: 'must be at least 10ms' });
      if (ms.min > ms.max)
        errors.push({ path: 'spec.delivery.minBackoff', message: 'must not exceed spec.delivery.maxBackoff' });
    }
    const info = typeof spec.type === 'string' ? this.#types(spec.type) : undefined;
    if (!info) {
      if (typeof spec.type !== 'string') return { ok: false, reason: 'InvalidConfig', errors };
      errors.push({
        path: 'spec.type',
        message: `no loaded plugin provides destination type '${spec.type}' (available: ${this.#known().join(', ') || 'none'})`,
      });
      return { ok: false, reason: 'PluginMissing', errors };
    }
    if (spec.config === undefined) spec.config = {};
    if (spec.config && typeof spec.config === 'object' && !Array.isArray(spec.config)) {
      if (info.validateConfig) {
        if (!info.validateConfig(spec.config))
          errors.push(...ajvErrorsToFieldErrors(info.validateConfig.errors, 'spec.config'));
      } else if (Object.keys(spec.config).length > 0) {
        errors.push({ path: 'spec.config', message: `plugin '${info.plugin}' takes no configuration` });
      }
    }
    if (errors.length > 0 || !schemaOk) return { ok: false, reason: 'InvalidConfig', errors };
    const meta = doc.metadata as { name: string; namespace?: string; generation?: number; uid?: string };
    const namespace = meta.namespace ?? defaultNamespace;
    deepFreeze(spec);
    return {
      ok: true,
      destination: Object.freeze({
        key: `${namespace}/${meta.name}`,
        namespace,
        name: meta.name,
        uid: meta.uid,
        generation: meta.generation ?? 1,
        spec,
        info,
        timeoutMs: ms.timeout,
        minBackoffMs: ms.min,
        maxBackoffMs: ms.max,
      }),
    };
  }
}

/** True for a document that declares itself a Destination (standalone files hold Ingesters and Destinations). */
export function isDestinationDocument(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'Destination';
}
