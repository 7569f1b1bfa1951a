/**
 * `spec.config` of a trivy Ingester: its type is derived from schema.json, which the host validates it against
 * (ajv, strict, defaults applied) before the plugin sees it; tests build one the same way (`configFromSchema`).
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { pluginConfigSchema } from 'zen-watcher/plugin-api';
import type { configSchema } from './schema.gen.ts';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** `spec.config` as the host hands it over: validated against schema.json, its defaults applied. */
export type TrivyConfig = FromSchema<typeof configSchema, { references: [typeof pluginConfigSchema] }>;

/** Observation severity of a Trivy severity (CRITICAL/HIGH/MEDIUM/LOW/UNKNOWN, any case). */
const TRIVY_SEVERITY: Readonly<Record<string, Severity>> = Object.freeze({
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  unknown: 'info',
  info: 'info',
  none: 'info',
});

/** Trivy severity → Observation severity; anything missing or unknown is `info` (lenient: old/foreign reports). */
export function severityOf(value: unknown): { severity: Severity; known: boolean } {
  if (typeof value !== 'string') return { severity: 'info', known: false };
  const key = value.trim().toLowerCase();
  const s = Object.hasOwn(TRIVY_SEVERITY, key) ? TRIVY_SEVERITY[key] : undefined; // not Object.prototype's keys
  return s ? { severity: s, known: true } : { severity: 'info', known: false };
}
